using System.Net;
using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.Health;
using Microsoft.Extensions.Logging.Abstractions;
using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Router;

namespace Loadwise.AotProxy.UnitTests;

/// <summary>What each backend response means for its health, Retry-After parsing, status sets and the retry budget.</summary>
public sealed class HealthUnitTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    private static BackendHealth NewHealth(Action<HealthCheckOptions>? configure = null, TimeProvider? time = null)
    {
        var options = new HealthCheckOptions();
        configure?.Invoke(options);
        var backends = new[] { new Backend("a", new Uri("http://127.0.0.1:1"), 1, 0) };
        return new BackendHealth(backends, options, NoOpMetricsCollector.Instance, NullLogger.Instance, time);
    }

    /// <summary>status, Retry-After (or null), expected kind, expected retry-after seconds (-1: none).</summary>
    public static TheoryData<int, string?, OutcomeKind, double> Responses => new()
    {
        { 200, null, OutcomeKind.Success, -1 },
        { 204, null, OutcomeKind.Success, -1 },
        { 301, null, OutcomeKind.Success, -1 },
        { 404, null, OutcomeKind.Success, -1 },
        { 499, null, OutcomeKind.Success, -1 },
        { 500, null, OutcomeKind.Failure, -1 },
        { 502, null, OutcomeKind.Failure, -1 },
        { 503, null, OutcomeKind.Failure, -1 },
        { 504, null, OutcomeKind.Failure, -1 },
        { 503, "7", OutcomeKind.RateLimited, 7 },
        { 503, "Sun, 22 Nov 2026 10:00:30 GMT", OutcomeKind.RateLimited, 30 },
        { 503, "soon", OutcomeKind.Failure, -1 },
        { 429, "2", OutcomeKind.RateLimited, 2 },
        { 429, null, OutcomeKind.RateLimited, -1 },
        { 429, "999999", OutcomeKind.RateLimited, 300 },
        { 429, "Sun, 22 Nov 2026 09:00:00 GMT", OutcomeKind.RateLimited, 0 },
    };

    [Theory]
    [MemberData(nameof(Responses))]
    public void Each_response_maps_to_its_outcome(int status, string? retryAfter, OutcomeKind kind, double seconds)
    {
        BackendHealth health = NewHealth(time: new FixedTime(Now));
        using var response = new HttpResponseMessage((HttpStatusCode)status);
        if (retryAfter is not null)
        {
            response.Headers.TryAddWithoutValidation("Retry-After", retryAfter);
        }

        Outcome outcome = health.Classify(status, response.Headers);
        Assert.Equal(kind, outcome.Kind);
        Assert.Equal(seconds < 0 ? null : TimeSpan.FromSeconds(seconds), outcome.RetryAfter);
    }

    [Fact]
    public void The_failure_set_is_configurable()
    {
        BackendHealth health = NewHealth(o => o.Passive.FailureStatusCodes = "502-504, 404");
        using var response = new HttpResponseMessage();
        Assert.Equal(OutcomeKind.Success, health.Classify(500, response.Headers).Kind);
        Assert.Equal(OutcomeKind.Failure, health.Classify(404, response.Headers).Kind);
        Assert.Equal(OutcomeKind.Failure, health.Classify(503, response.Headers).Kind);
    }

    [Fact]
    public void A_passive_success_does_not_revive_an_unhealthy_backend_but_a_probe_does()
    {
        BackendHealth health = NewHealth();
        var backend = new Backend("a", new Uri("http://127.0.0.1:1"), 1, 0) { Health = health.Tracker.GetHandle("a") };
        health.ReportPassive(backend, Outcome.Failure);
        health.ReportPassive(backend, Outcome.Failure);
        Assert.Equal(HealthStatus.Unhealthy, backend.Health.Status);
        health.ReportPassive(backend, Outcome.Success);
        Assert.Equal(HealthStatus.Unhealthy, backend.Health.Status);
        health.Tracker.Report("a", Outcome.Success);
        Assert.Equal(HealthStatus.Recovering, backend.Health.Status);
        health.ReportPassive(backend, Outcome.Success);
        health.ReportPassive(backend, Outcome.Success);
        Assert.Equal(HealthStatus.Healthy, backend.Health.Status);
    }

    [Fact]
    public void Passive_reports_can_be_turned_off()
    {
        BackendHealth health = NewHealth(o => o.Passive.Enabled = false);
        var backend = new Backend("a", new Uri("http://127.0.0.1:1"), 1, 0) { Health = health.Tracker.GetHandle("a") };
        for (int i = 0; i < 5; i++)
        {
            health.ReportPassive(backend, Outcome.Failure);
        }

        Assert.Equal(HealthStatus.Healthy, backend.Health.Status);
    }

    [Theory]
    [InlineData("500-599", 500, true)]
    [InlineData("500-599", 599, true)]
    [InlineData("500-599", 499, false)]
    [InlineData("500, 502-504", 501, false)]
    [InlineData("500, 502-504", 503, true)]
    [InlineData("429", 429, true)]
    public void Status_sets_parse_codes_and_ranges(string text, int code, bool contained)
    {
        Assert.True(StatusCodeSet.TryParse(text, out StatusCodeSet set));
        Assert.Equal(contained, set.Contains(code));
    }

    [Theory]
    [InlineData("")]
    [InlineData("5xx")]
    [InlineData("600")]
    [InlineData("99")]
    [InlineData("599-500")]
    [InlineData("500-")]
    [InlineData("500,,502")]
    public void Bad_status_sets_are_refused(string text) => Assert.False(StatusCodeSet.TryParse(text, out _));

    [Fact]
    public void The_retry_budget_allows_its_minimum_then_its_share_of_requests_in_the_window()
    {
        long now = 1_000_000; // milliseconds
        var budget = new RetryBudget(TimeSpan.FromSeconds(10), percent: 20, minRetries: 2);
        Assert.True(budget.TryRetry(now));
        Assert.True(budget.TryRetry(now));
        Assert.False(budget.TryRetry(now));

        for (int i = 0; i < 50; i++)
        {
            budget.OnRequest(now);
        }

        // 20% of 50 requests = 10 retries in the window, 2 of them already spent.
        int allowed = 0;
        while (budget.TryRetry(now) && allowed < 100)
        {
            allowed++;
        }

        Assert.Equal(8, allowed);

        // Ten seconds later the window has slid past all of it: back to the minimum.
        now += 11_000;
        Assert.True(budget.TryRetry(now));
        Assert.True(budget.TryRetry(now));
        Assert.False(budget.TryRetry(now));
    }

    [Fact]
    public void No_backend_available_asks_clients_to_come_back_when_the_first_rest_ends()
    {
        var time = new FixedTime(Now);
        var options = new HealthCheckOptions();
        var backends = new[] { new Backend("a", new Uri("http://127.0.0.1:1"), 1, 0), new Backend("b", new Uri("http://127.0.0.1:2"), 1, 0) };
        var health = new BackendHealth(backends, options, NoOpMetricsCollector.Instance, NullLogger.Instance, time);
        health.Tracker.Report("a", Outcome.RateLimited(TimeSpan.FromSeconds(30)));
        health.Tracker.Report("b", Outcome.RateLimited(TimeSpan.FromSeconds(12.2)));
        Assert.Equal(13, health.RetryAfterSeconds(backends));

        // An unhealthy backend may be back at the next probe: one interval (1 s).
        health.Tracker.Report("b", Outcome.Failure);
        health.Tracker.Report("b", Outcome.Failure);
        Assert.Equal(1, health.RetryAfterSeconds(backends));
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;

        public override long GetTimestamp() => now.UtcTicks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    }
}
