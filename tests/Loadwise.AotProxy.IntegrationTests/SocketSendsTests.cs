using System.Net;
using System.Net.Sockets;
using Loadwise.AotProxy.Listener;

namespace Loadwise.AotProxy.IntegrationTests;

public sealed class SocketSendsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_small_buffer_goes_out_in_one_direct_send()
    {
        (Socket sender, Socket receiver) = await ConnectedPairAsync();
        using (sender)
        using (receiver)
        {
            byte[] data = "GET / HTTP/1.1\r\nHost: b\r\n\r\n"u8.ToArray();

            Assert.Equal(data.Length, SocketSends.TrySendNow(sender, data));

            Assert.Equal(data, await ReceiveExactlyAsync(receiver, data.Length));
        }
    }

    [Fact]
    public async Task A_direct_send_with_no_room_takes_nothing_instead_of_waiting()
    {
        (Socket sender, Socket receiver) = await ConnectedPairAsync();
        using (sender)
        using (receiver)
        {
            var chunk = new byte[64 * 1024];
            long taken = 0;
            int sent;
            // The receiver reads nothing, so both socket buffers fill and the kernel refuses more.
            while ((sent = SocketSends.TrySendNow(sender, chunk)) > 0)
            {
                taken += sent;
                Assert.True(taken < 256L * 1024 * 1024, "the kernel never ran out of room");
            }

            Assert.Equal(0, sent);
            Assert.True(taken > 0);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task What_does_not_fit_is_sent_asynchronously_in_order(bool direct)
    {
        (Socket sender, Socket receiver) = await ConnectedPairAsync();
        using (sender)
        using (receiver)
        {
            // Far more than the socket buffers hold: the first send takes part of it, the rest waits for the reader.
            byte[] data = new byte[8 * 1024 * 1024];
            new Random(42).NextBytes(data);

            ValueTask sending = SocketSends.SendAsync(sender, data, direct, Ct);
            Assert.False(sending.IsCompleted);
            byte[] received = await ReceiveExactlyAsync(receiver, data.Length);
            await sending;

            Assert.Equal(data, received);
        }
    }

    [Fact]
    public async Task A_send_to_a_peer_that_reset_fails_with_a_socket_exception()
    {
        (Socket sender, Socket receiver) = await ConnectedPairAsync();
        using (sender)
        {
            receiver.LingerState = new LingerOption(true, 0); // close with RST
            receiver.Dispose();
            await Task.Delay(50, Ct);

            var data = new byte[1024];
            // The first send may still be taken by the kernel (the RST arrives in answer); a later one fails.
            await Assert.ThrowsAsync<SocketException>(async () =>
            {
                for (int i = 0; i < 100; i++)
                {
                    await SocketSends.SendAsync(sender, data, Ct);
                    await Task.Delay(10, Ct);
                }
            });
        }
    }

    private static async Task<(Socket Sender, Socket Receiver)> ConnectedPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Task<Socket> accepted = listener.AcceptAsync(Ct).AsTask();
        await sender.ConnectAsync(listener.LocalEndPoint!, Ct);
        return (sender, await accepted);
    }

    private static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int length)
    {
        var buffer = new byte[length];
        int read = 0;
        while (read < length)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, Ct);
            Assert.True(n > 0, $"the connection ended after {read} of {length} bytes");
            read += n;
        }

        return buffer;
    }
}
