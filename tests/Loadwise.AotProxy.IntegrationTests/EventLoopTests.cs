using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;
using Loadwise.AotProxy.Listener;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// The proxy's own event loop (Linux): the readiness counter that makes lost wake-ups impossible, sockets on the loop
/// (receive, send with back-pressure, cancellation, abort, connect errors), the listener Kestrel binds through, and the
/// pipe reader the fast path reads with.
/// </summary>
public sealed class EventLoopTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly EventLoopGroup _group = new(2, NullLogger.Instance);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _group.Dispose();

    [Fact]
    public async Task An_edge_before_the_wait_completes_it_at_once_and_a_later_edge_wakes_a_waiter()
    {
        var readiness = new Readiness();
        int seen = readiness.Sequence;
        readiness.Signal();
        Assert.True(readiness.WaitAsync(seen, Ct).IsCompletedSuccessfully);

        seen = readiness.Sequence;
        ValueTask waiting = readiness.WaitAsync(seen, Ct);
        Assert.False(waiting.IsCompleted);
        readiness.Signal();
        Assert.True(waiting.IsCompletedSuccessfully);
        await waiting;
    }

    [Fact]
    public async Task A_cancelled_wait_throws_and_the_next_wait_still_works()
    {
        var readiness = new Readiness();
        using var cancel = new CancellationTokenSource();
        ValueTask waiting = readiness.WaitAsync(readiness.Sequence, cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await waiting);

        ValueTask next = readiness.WaitAsync(readiness.Sequence, Ct);
        readiness.Signal();
        await next;
    }

    [Fact]
    public async Task A_receive_gets_the_last_bytes_and_then_the_end_even_when_both_came_with_one_edge()
    {
        using SocketPair pair = await ConnectPairAsync();
        (LoopSocket socket, Socket peer) = (pair.Socket, pair.Peer);
        var buffer = new byte[4096];
        for (int round = 0; round < 20; round++)
        {
            // Bytes and the close back to back: often one edge for both, then a short read and no further edge.
            if (round == 19)
            {
                peer.Send("last"u8);
                peer.Shutdown(SocketShutdown.Send);
                // Let the loop take that edge first: the receive then sees it already counted.
                await Task.Delay(50, Ct);
            }
            else
            {
                peer.Send("more"u8);
            }

            int read = await socket.ReceiveAsync(buffer, Ct).AsTask().WaitAsync(Patience, Ct);
            Assert.Equal(4, read);
        }

        Assert.Equal(0, await socket.ReceiveAsync(buffer, Ct).AsTask().WaitAsync(Patience, Ct));
    }

    [Fact]
    public async Task A_connected_socket_does_not_read_as_closed_by_its_peer()
    {
        using SocketPair pair = await ConnectPairAsync();
        (LoopSocket socket, Socket peer) = (pair.Socket, pair.Peer);
        // Registered before its connect began, a socket reports HUP (state CLOSE) at once.
        await Task.Delay(50, Ct);
        Assert.False(socket.PeerClosed);
        peer.Shutdown(SocketShutdown.Send);
        await WaitUntilAsync(() => socket.PeerClosed);
    }

    [Theory]
    [InlineData(16 * 1024 * 1024, 0)] // one buffer
    [InlineData(100, 16 * 1024 * 1024)] // a head and a body beside it (one gather send): the body's rest waits for room
    [InlineData(8 * 1024 * 1024, 8 * 1024 * 1024)] // the head's own rest waits for room, then the body goes
    public async Task A_send_larger_than_the_kernel_buffers_waits_for_room_and_delivers_every_byte(int headBytes, int bodyBytes)
    {
        using SocketPair pair = await ConnectPairAsync();
        (LoopSocket socket, Socket peer) = (pair.Socket, pair.Peer);
        byte[] data = new byte[headBytes + bodyBytes];
        new Random(7).NextBytes(data);
        ValueTask sending = bodyBytes == 0 ? socket.SendAsync(data, Ct) : socket.SendAsync(data.AsMemory(0, headBytes), data.AsMemory(headBytes), Ct);
        Assert.False(sending.IsCompleted, "16 MiB cannot fit in the socket buffers before the peer reads");

        var received = new MemoryStream();
        var chunk = new byte[65536];
        while (received.Length < data.Length)
        {
            int read = await peer.ReceiveAsync(chunk, Ct);
            Assert.True(read > 0);
            received.Write(chunk, 0, read);
        }

        await sending.AsTask().WaitAsync(Patience, Ct);
        Assert.True(data.AsSpan().SequenceEqual(received.ToArray()));
    }

    [Fact]
    public async Task A_cancelled_receive_throws_and_the_socket_still_receives_afterwards()
    {
        using SocketPair pair = await ConnectPairAsync();
        (LoopSocket socket, Socket peer) = (pair.Socket, pair.Peer);
        var buffer = new byte[64];
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await socket.ReceiveAsync(buffer, cancel.Token).AsTask().WaitAsync(Patience, Ct));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await socket.ReceiveAsync(buffer, new CancellationToken(canceled: true)).AsTask().WaitAsync(Patience, Ct));

        peer.Send("after"u8);
        int read = await socket.ReceiveAsync(buffer, Ct).AsTask().WaitAsync(Patience, Ct);
        Assert.Equal("after", Encoding.ASCII.GetString(buffer, 0, read));
    }

    [Fact]
    public async Task Abort_from_another_thread_ends_a_waiting_receive_and_the_peer_sees_the_close()
    {
        using SocketPair pair = await ConnectPairAsync();
        (LoopSocket socket, Socket peer) = (pair.Socket, pair.Peer);
        Task<int> receiving = socket.ReceiveAsync(new byte[64], Ct).AsTask();
        await Task.Delay(50, Ct);
        Assert.False(receiving.IsCompleted);
        await Task.Run(socket.Abort, Ct);
        Assert.Equal(0, await receiving.WaitAsync(Patience, Ct));
        Assert.Equal(0, await peer.ReceiveAsync(new byte[64], Ct).AsTask().WaitAsync(Patience, Ct));
    }

    [Fact]
    public async Task A_connect_to_a_port_nobody_listens_on_fails_with_connection_refused()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        SocketException error = await Assert.ThrowsAsync<SocketException>(async () =>
            await LoopSocket.ConnectAsync(_group.Next(), new IPEndPoint(IPAddress.Loopback, port), Ct));
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
        Assert.Contains("connect to 127.0.0.1:" + port, error.Message);
        Assert.All(_group.Workers, worker => Assert.Equal(0, worker.Registered));
    }

    [Fact]
    public async Task A_listener_on_port_0_gets_one_port_for_every_worker_and_hands_over_each_connection_with_its_peer()
    {
        await using var listener = new LoopListener(_group, new IPEndPoint(IPAddress.Loopback, 0), waitForDataBeforeAllocatingBuffer: false);
        int port = ((IPEndPoint)listener.EndPoint).Port;
        Assert.NotEqual(0, port);

        var clients = new List<Socket>();
        try
        {
            for (int i = 0; i < 8; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), Ct);
                clients.Add(client);
            }

            var peers = new HashSet<EndPoint>();
            for (int i = 0; i < clients.Count; i++)
            {
                ConnectionContext? accepted = await listener.AcceptAsync(Ct).AsTask().WaitAsync(Patience, Ct);
                Assert.NotNull(accepted);
                peers.Add(accepted.RemoteEndPoint!);
                Assert.Equal(port, ((IPEndPoint)accepted.LocalEndPoint!).Port);
                await accepted.DisposeAsync();
            }

            Assert.Equal(clients.Select(client => client.LocalEndPoint!).ToHashSet(), peers);
        }
        finally
        {
            clients.ForEach(client => client.Dispose());
        }

        await listener.UnbindAsync(Ct);
        Assert.Null(await listener.AcceptAsync(Ct));
        using var late = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        SocketException refused = await Assert.ThrowsAsync<SocketException>(async () => await late.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), Ct));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public async Task Each_accepted_connection_goes_to_the_worker_with_the_fewest_and_a_closed_one_stops_counting()
    {
        await using var listener = new LoopListener(_group, new IPEndPoint(IPAddress.Loopback, 0), waitForDataBeforeAllocatingBuffer: false);
        var port = ((IPEndPoint)listener.EndPoint).Port;
        var clients = new List<Socket>();
        var accepted = new List<LoopConnection>();
        try
        {
            async Task<LoopConnection> ConnectOne()
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), Ct);
                var connection = (LoopConnection)(await listener.AcceptAsync(Ct).AsTask().WaitAsync(Patience, Ct))!;
                accepted.Add(connection);
                return connection;
            }

            // One at a time, so each choice sees the counts the previous one left: whichever listening socket the
            // kernel's hash picks, the connections alternate.
            for (int i = 0; i < 10; i++)
            {
                await ConnectOne();
            }

            Assert.All(_group.Workers, worker => Assert.Equal(5, worker.ClientConnections));

            // Three closed on worker 0: the next three all go there.
            foreach (LoopConnection connection in accepted.Where(connection => connection.Socket.Worker == _group.Workers[0]).Take(3).ToList())
            {
                await connection.DisposeAsync();
                accepted.Remove(connection);
            }

            Assert.Equal(2, _group.Workers[0].ClientConnections);
            for (int i = 0; i < 3; i++)
            {
                Assert.Same(_group.Workers[0], (await ConnectOne()).Socket.Worker);
            }

            Assert.All(_group.Workers, worker => Assert.Equal(5, worker.ClientConnections));
        }
        finally
        {
            foreach (LoopConnection connection in accepted)
            {
                await connection.DisposeAsync();
            }

            clients.ForEach(client => client.Dispose());
        }

        Assert.All(_group.Workers, worker => Assert.Equal(0, worker.ClientConnections));
    }

    [Fact]
    public async Task A_port_in_use_fails_the_bind_with_the_address_and_what_to_do()
    {
        using var other = new TcpListener(IPAddress.Loopback, 0);
        other.Start();
        var taken = (IPEndPoint)other.LocalEndpoint;
        AddressInUseException error = Assert.Throws<AddressInUseException>(() => new LoopListener(_group, taken, waitForDataBeforeAllocatingBuffer: false));
        Assert.Contains(taken.ToString(), error.Message);
        Assert.Contains("another port", error.Message);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task The_direct_reader_keeps_unconsumed_bytes_cancels_a_pending_read_and_hands_the_rest_to_the_pipes()
    {
        await using var listener = new LoopListener(_group, new IPEndPoint(IPAddress.Loopback, 0), waitForDataBeforeAllocatingBuffer: true);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.EndPoint, Ct);
        var connection = (LoopConnection)(await listener.AcceptAsync(Ct))!;
        await using (connection)
        {
            client.Send("first|second"u8);
            ReadResult result = await ReadAtLeastAsync(connection.DirectInput, 12);
            Assert.Equal("first|second", Encoding.ASCII.GetString(result.Buffer.ToArray()));
            connection.DirectInput.AdvanceTo(result.Buffer.GetPosition(6), result.Buffer.End);

            // Everything examined: the next read waits for the socket, and CancelPendingRead ends that wait, both for
            // the fast path's read (no token: completed by the loop's callback) and for a read with a token.
            foreach (CancellationToken token in new[] { CancellationToken.None, Ct })
            {
                ValueTask<ReadResult> pending = connection.DirectInput.ReadAsync(token);
                Assert.False(pending.IsCompleted);
                connection.DirectInput.CancelPendingRead();
                ReadResult cancelled = await pending.AsTask().WaitAsync(Patience, Ct);
                Assert.True(cancelled.IsCanceled);
                Assert.Equal("second", Encoding.ASCII.GetString(cancelled.Buffer.ToArray()));
                connection.DirectInput.AdvanceTo(cancelled.Buffer.Start, cancelled.Buffer.End);
            }

            // A waiting read (no token) gets the next bytes when they come.
            ValueTask<ReadResult> waiting = connection.DirectInput.ReadAsync(CancellationToken.None);
            Assert.False(waiting.IsCompleted);
            client.Send("+"u8);
            ReadResult more = await waiting.AsTask().WaitAsync(Patience, Ct);
            Assert.Equal("second+", Encoding.ASCII.GetString(more.Buffer.ToArray()));
            connection.DirectInput.AdvanceTo(more.Buffer.Start, more.Buffer.End);

            // Handed over: the pipe first yields what the direct reader held, then what the socket brings.
            Assert.False(connection.Pumping);
            PipeReader input = connection.Transport.Input;
            Assert.True(connection.Pumping);
            client.Send("|third"u8);
            ReadResult piped = await ReadAtLeastAsync(input, 13);
            Assert.Equal("second+|third", Encoding.ASCII.GetString(piped.Buffer.ToArray()));
            input.AdvanceTo(piped.Buffer.End);

            await connection.Transport.Output.WriteAsync("reply"u8.ToArray(), Ct);
            var reply = new byte[16];
            int read = await client.ReceiveAsync(reply, Ct).AsTask().WaitAsync(Patience, Ct);
            Assert.Equal("reply", Encoding.ASCII.GetString(reply, 0, read));

            // The client's half-close ends the input, but does not fire the closed token: its answer can still go out.
            client.Shutdown(SocketShutdown.Send);
            ReadResult end = await input.ReadAsync(Ct).AsTask().WaitAsync(Patience, Ct);
            Assert.True(end.IsCompleted);
            await Task.Delay(100, Ct);
            Assert.False(connection.ConnectionClosed.IsCancellationRequested);
            await connection.Transport.Output.WriteAsync("after"u8.ToArray(), Ct);
            read = await client.ReceiveAsync(reply, Ct).AsTask().WaitAsync(Patience, Ct);
            Assert.Equal("after", Encoding.ASCII.GetString(reply, 0, read));

            // A reset breaks the connection and fires it.
            client.LingerState = new LingerOption(true, 0);
            client.Close();
            await WaitUntilAsync(() => connection.ConnectionClosed.IsCancellationRequested);
        }
    }

    private static async Task<ReadResult> ReadAtLeastAsync(PipeReader reader, int length)
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync(Ct).AsTask().WaitAsync(Patience, Ct);
            if (result.Buffer.Length >= length || result.IsCompleted)
            {
                return result;
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        DateTime deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(10, Ct);
        }
    }

    private async Task<SocketPair> ConnectPairAsync()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Task<Socket> accepting = listener.AcceptSocketAsync(Ct).AsTask();
        LoopSocket socket = await LoopSocket.ConnectAsync(_group.Next(), (IPEndPoint)listener.LocalEndpoint, Ct);
        return new SocketPair(socket, await accepting);
    }

    /// <summary>A socket on the loop and its peer (a runtime socket), closed together.</summary>
    private sealed record SocketPair(LoopSocket Socket, Socket Peer) : IDisposable
    {
        public void Dispose()
        {
            Socket.Dispose();
            Peer.Dispose();
        }
    }
}
