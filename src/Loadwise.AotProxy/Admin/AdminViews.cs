using System.Text.Json.Serialization;

namespace Loadwise.AotProxy.Admin;

/// <summary>One backend as <c>GET /admin/backends</c> shows it.</summary>
/// <param name="Id">The backend's id.</param>
/// <param name="Url">Its URL (user-info redacted).</param>
/// <param name="Weight">Its weight.</param>
/// <param name="Health">healthy, degraded, unhealthy or recovering.</param>
/// <param name="Admin">in_service, draining (taken out, requests still in flight) or maintenance.</param>
/// <param name="InFlight">Requests in flight to it now.</param>
/// <param name="RequestsPerSecond">Its request rate over the last minute.</param>
/// <param name="P50Ms">Median latency over the last minute (a bucket bound), or null without requests.</param>
/// <param name="P99Ms">99th-percentile latency over the last minute (a bucket bound), or null without requests.</param>
/// <param name="Requests">Requests finished in the last minute.</param>
/// <param name="Errors">Of which failed (5xx).</param>
/// <param name="LastError">The latest failure, or null.</param>
/// <param name="LastErrorAt">When it happened, or null.</param>
/// <param name="PerSecond">Requests per second over the last minute, oldest first.</param>
internal sealed record BackendView(
    string Id, string Url, int Weight, string Health, string Admin, int InFlight, double RequestsPerSecond, double? P50Ms, double? P99Ms,
    long Requests, long Errors, string? LastError, DateTimeOffset? LastErrorAt, long[] PerSecond);

/// <summary>What <c>GET /admin/backends</c> answers.</summary>
/// <param name="Time">When the figures were read.</param>
/// <param name="Strategy">The strategy in force.</param>
/// <param name="InFlight">Requests in flight through the proxy.</param>
/// <param name="Backends">The backends, in configuration order.</param>
internal sealed record BackendsView(DateTimeOffset Time, string Strategy, long InFlight, BackendView[] Backends);

/// <summary>What a reload did.</summary>
/// <param name="Applied">Whether the new configuration is in force.</param>
/// <param name="Problems">Why it was refused (one line per problem, as --check-config prints them); empty when applied.</param>
/// <param name="NeedsRestart">Keys that changed but take a restart (the rest was applied).</param>
/// <param name="Summary">One line saying what happened.</param>
internal sealed record ReloadOutcome(bool Applied, string[] Problems, string[] NeedsRestart, string Summary);

/// <summary>An admin API error.</summary>
/// <param name="Error">What went wrong and what to do.</param>
internal sealed record ErrorView(string Error);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(BackendsView))]
[JsonSerializable(typeof(BackendView))]
[JsonSerializable(typeof(ReloadOutcome))]
[JsonSerializable(typeof(ErrorView))]
internal sealed partial class AdminJsonContext : JsonSerializerContext;
