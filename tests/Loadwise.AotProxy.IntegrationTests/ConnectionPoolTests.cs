using System.Net;
using System.Net.Sockets;
using Loadwise.AotProxy.Threading;
using Loadwise.AotProxy.Upstream;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>The backend connection pool's preference for connections homed on the calling event thread.</summary>
public sealed class ConnectionPoolTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_connection_homed_on_the_calling_thread_is_rented_before_older_ones_from_other_threads()
    {
        using TcpListener listener = Listen();
        using ConnectionPool pool = PoolFor(listener, TimeSpan.FromMinutes(1));

        BackendConnection elsewhere = await pool.ConnectAsync(Ct);
        BackendConnection here = await pool.ConnectAsync(Ct);

        // Synchronous from here, so "the calling thread" is one thread throughout.
        await Task.Run(
            () =>
            {
                int home = ConnectionPool.CurrentSlot();
                elsewhere.HomeSlot = (home + 1) % 8;
                here.HomeSlot = home;

                pool.Return(elsewhere, ProxyClock.System.NowMilliseconds); // first in, yet homed on another thread
                pool.Return(here, ProxyClock.System.NowMilliseconds);
                Assert.Equal(2, pool.IdleCount);

                Assert.True(pool.TryRent(ProxyClock.System.NowMilliseconds, out BackendConnection first));
                Assert.Same(here, first);
                Assert.True(pool.TryRent(ProxyClock.System.NowMilliseconds, out BackendConnection second)); // none left here: another thread's idle one beats a new connection
                Assert.Same(elsewhere, second);
                Assert.False(pool.TryRent(ProxyClock.System.NowMilliseconds, out _));
                first.Dispose();
                second.Dispose();
            },
            Ct);
    }

    [Fact]
    public async Task A_connection_idle_past_the_idle_timeout_is_closed_instead_of_rented()
    {
        using TcpListener listener = Listen();
        using ConnectionPool pool = PoolFor(listener, TimeSpan.FromSeconds(1));
        BackendConnection stale = await pool.ConnectAsync(Ct);
        BackendConnection fresh = await pool.ConnectAsync(Ct);
        long now = ProxyClock.System.NowMilliseconds;

        // Idle since the start of the attempt that returned it: 1.5 s before now is past the 1 s timeout.
        pool.Return(stale, now - 1500);
        Assert.False(pool.TryRent(now, out _));
        Assert.Equal(0, pool.IdleCount);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => stale.SendAsync(new byte[] { 1 }, Ct).AsTask());

        pool.Return(fresh, now - 500);
        Assert.True(pool.TryRent(now, out BackendConnection rented));
        Assert.Same(fresh, rented);
        rented.Dispose();
    }

    [Fact]
    public void A_thread_keeps_its_slot_and_another_thread_gets_another()
    {
        // Two dedicated threads (a pool could run two tasks on one thread): each reads its slot twice.
        int[] SlotsOnNewThread()
        {
            int[] slots = [];
            var thread = new Thread(() => slots = [ConnectionPool.CurrentSlot(), ConnectionPool.CurrentSlot()]);
            thread.Start();
            thread.Join();
            return slots;
        }

        // Threads are numbered as they first ask, modulo at least 8 slots; threads of other tests may ask in between,
        // so of three more threads at least one has another slot than the first unless the slot is shared.
        int[][] threads = [SlotsOnNewThread(), SlotsOnNewThread(), SlotsOnNewThread(), SlotsOnNewThread()];
        Assert.All(threads, slots => Assert.Equal(slots[0], slots[1]));
        Assert.All(threads, slots => Assert.InRange(slots[0], 0, 63));
        Assert.Contains(threads, slots => slots[0] != threads[0][0]);
    }

    [Fact]
    public async Task A_connection_that_waited_for_its_response_learns_its_home_thread()
    {
        using TcpListener listener = Listen();
        using ConnectionPool pool = PoolFor(listener, TimeSpan.FromMinutes(1));
        using BackendConnection connection = await pool.ConnectAsync(Ct);
        using Socket server = await listener.AcceptSocketAsync(Ct);
        Assert.Equal(-1, connection.HomeSlot);

        ValueTask<bool> fill = connection.FillAsync(Ct); // nothing sent yet: the receive has to wait
        await Task.Delay(50, Ct);
        await server.SendAsync("HTTP/1.1 200 OK\r\n"u8.ToArray(), SocketFlags.None, Ct);
        Assert.True(await fill);
        Assert.InRange(connection.HomeSlot, 0, 63);

        // The response-head reader receives by itself (one state machine fewer): it must learn the home as well.
        using BackendConnection second = await pool.ConnectAsync(Ct);
        using Socket secondServer = await listener.AcceptSocketAsync(Ct);
        Assert.False(ResponseReader.TryReadHead(second, second.Head, requestWasHead: false, out ValueTask<int> pending, Ct));
        Task head = Task.Run(async () => ResponseReader.ReceivedHeadBytes(second, await pending), Ct);
        await Task.Delay(50, Ct);
        await secondServer.SendAsync("HTTP/1.1 204 No Content\r\n\r\n"u8.ToArray(), SocketFlags.None, Ct);
        await head;
        Assert.True(ResponseReader.TryReadHead(second, second.Head, requestWasHead: false, out _, Ct));
        Assert.Equal(204, second.Head.Status);
        Assert.InRange(second.HomeSlot, 0, 63);
    }

    /// <summary>A listening socket on a free loopback port, standing in for a backend.</summary>
    private static TcpListener Listen()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    private static ConnectionPool PoolFor(TcpListener backend, TimeSpan idleTimeout) =>
        new(new Uri($"http://127.0.0.1:{((IPEndPoint)backend.LocalEndpoint).Port}/"), new UpstreamSettings(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), idleTimeout, null));
}
