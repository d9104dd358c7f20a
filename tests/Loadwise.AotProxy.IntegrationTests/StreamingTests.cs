using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Loadwise.AotProxy.IntegrationTests;

public sealed class StreamingTests(ITestOutputHelper output)
{
    private const long HundredMegabytes = 100L * 1024 * 1024;
    private const long HeapGrowthLimit = 32L * 1024 * 1024;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Echo_round_trips_the_body()
    {
        await using TestProxy proxy = await TestProxy.StartAsync();
        using var content = new StringContent("hello, loadwise", Encoding.UTF8, "text/plain");
        using HttpResponseMessage response = await proxy.Client.PostAsync("/echo", content, Ct);
        Assert.Equal("hello, loadwise", await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal("text/plain; charset=utf-8", response.Content.Headers.ContentType!.ToString());
    }

    [Fact]
    public async Task Hundred_megabyte_upload_and_download_stream_through_with_bounded_heap()
    {
        await using TestProxy proxy = await TestProxy.StartAsync();
        await using var heap = HeapSampler.Start();

        using var upload = new GeneratedContent(HundredMegabytes);
        using HttpResponseMessage uploaded = await proxy.Client.PostAsync("/sink", upload, Ct);
        Assert.Equal(HttpStatusCode.OK, uploaded.StatusCode);
        Assert.Equal(HundredMegabytes.ToString(System.Globalization.CultureInfo.InvariantCulture), await uploaded.Content.ReadAsStringAsync(Ct));

        using HttpResponseMessage downloaded = await proxy.Client.GetAsync($"/bytes/{HundredMegabytes}", HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal(HundredMegabytes, downloaded.Content.Headers.ContentLength);
        long received = 0;
        await using (Stream body = await downloaded.Content.ReadAsStreamAsync(Ct))
        {
            byte[] buffer = new byte[64 * 1024];
            int read;
            while ((read = await body.ReadAsync(buffer, Ct)) > 0)
            {
                received += read;
            }
        }

        Assert.Equal(HundredMegabytes, received);
        long growth = await heap.StopAsync();
        output.WriteLine($"managed heap growth during 100 MiB up + 100 MiB down: {growth / 1024.0 / 1024.0:F1} MiB (limit 32 MiB)");
        Assert.True(growth < HeapGrowthLimit, $"heap grew by {growth} bytes");
    }

    [Fact]
    public async Task Body_over_the_limit_is_rejected_with_413_not_blamed_on_the_backend()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Limits.MaxRequestBodyBytes = 1024);
        using var content = new ByteArrayContent(new byte[4096]);
        using HttpResponseMessage response = await proxy.Client.PostAsync("/sink", content, Ct);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    /// <summary>
    /// Bytes allocated per proxied request, measured as the whole process's allocation over N keep-alive GETs through
    /// the proxy minus the same N GETs sent straight to the backend (client and backend cost cancel out).
    /// </summary>
    [Fact]
    public async Task Allocation_per_proxied_request_is_measured_and_small()
    {
        const int Requests = 2000;
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Strategy.Name = "RoundRobin", backendCount: 1);
        using var direct = new HttpClient(TestProxy.NewHandler()) { BaseAddress = new Uri(proxy.Backends[0].Url) };
        await RunAsync(proxy.Client, 200);
        await RunAsync(direct, 200);

        long viaProxy = await MeasureAsync(proxy.Client, Requests);
        long straight = await MeasureAsync(direct, Requests);
        long perRequest = (viaProxy - straight) / Requests;
        output.WriteLine($"allocated per request: via proxy {viaProxy / Requests} B, direct {straight / Requests} B, proxy's share {perRequest} B");
        Assert.InRange(perRequest, 0, 16 * 1024);

        static async Task<long> MeasureAsync(HttpClient client, int requests)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            await RunAsync(client, requests);
            return GC.GetTotalAllocatedBytes(precise: true) - before;
        }

        static async Task RunAsync(HttpClient client, int requests)
        {
            for (int i = 0; i < requests; i++)
            {
                using HttpResponseMessage response = await client.GetAsync("/", Ct);
                await response.Content.ReadAsByteArrayAsync(Ct);
            }
        }
    }

    /// <summary>A body generated on the fly (nothing stored).</summary>
    private sealed class GeneratedContent : HttpContent
    {
        private readonly long _length;

        public GeneratedContent(long length)
        {
            _length = length;
            Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            byte[] block = new byte[64 * 1024];
            Array.Fill(block, (byte)'x');
            for (long sent = 0; sent < _length; sent += block.Length)
            {
                await stream.WriteAsync(block.AsMemory(0, (int)Math.Min(block.Length, _length - sent)));
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _length;
            return true;
        }
    }

    /// <summary>Samples the live managed heap every 25 ms and reports the largest growth over the starting size.</summary>
    private sealed class HeapSampler : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly long _baseline;
        private readonly Task<long> _sampling;

        private HeapSampler()
        {
            _baseline = GC.GetTotalMemory(forceFullCollection: true);
            _sampling = Task.Run(async () =>
            {
                long peak = 0;
                while (!_stop.IsCancellationRequested)
                {
                    // The live heap (after a full collection), not the heap with uncollected garbage in it: what a
                    // body buffered whole would show, without the gen0 budget's noise.
                    peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: true) - _baseline);
                    await Task.Delay(25, CancellationToken.None);
                }

                return peak;
            });
        }

        public static HeapSampler Start() => new();

        public async Task<long> StopAsync()
        {
            await _stop.CancelAsync();
            return await _sampling;
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _sampling;
            _stop.Dispose();
        }
    }
}
