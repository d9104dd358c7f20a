using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Loadwise.AotProxy.Listener;

/// <summary>
/// Sends a buffer the way nginx and HAProxy write: first one non-blocking send(2) from the calling thread, then an
/// asynchronous send only for what did not fit. A request head or a small response fits whole, so the common case
/// runs no asynchronous socket operation (no event args, operation queue, completion or continuation). Linux only;
/// elsewhere, and for what is left, <see cref="Socket.SendAsync(ReadOnlyMemory{byte}, SocketFlags, CancellationToken)"/>.
/// </summary>
/// <remarks>
/// Callers never have two sends in flight on one socket, so the direct send cannot overtake an asynchronous one.
/// </remarks>
/// <example><code>
/// await SocketSends.SendAsync(connection.Socket, requestHead.Written, cancellation.Token);
/// </code></example>
internal static partial class SocketSends
{
    private static readonly bool DirectSends = OperatingSystem.IsLinux();

    /// <summary>Sends all of <paramref name="data"/>; completes synchronously when one direct send took it all.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ValueTask SendAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        SendAsync(socket, data, DirectSends, cancellationToken);

    /// <summary>As <see cref="SendAsync(Socket, ReadOnlyMemory{byte}, CancellationToken)"/>, with the direct send on or off (tests cover both).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ValueTask SendAsync(Socket socket, ReadOnlyMemory<byte> data, bool direct, CancellationToken cancellationToken)
    {
        int sent = direct ? TrySendNow(socket, data.Span) : 0;
        return sent == data.Length ? ValueTask.CompletedTask : SendRestAsync(socket, data[sent..], cancellationToken);
    }

    /// <summary>One non-blocking send (Linux): the bytes the kernel took, 0 when it had no room.</summary>
    internal static unsafe int TrySendNow(Socket socket, ReadOnlySpan<byte> data)
    {
        while (true)
        {
            nint sent;
            fixed (byte* bytes = data)
            {
                // Do not wait for room; no SIGPIPE for a peer that has gone (EPIPE is returned instead).
                sent = Send(socket.SafeHandle, bytes, (nuint)data.Length, LoopNative.MSG_DONTWAIT | LoopNative.MSG_NOSIGNAL);
            }

            if (sent >= 0)
            {
                return (int)sent;
            }

            int errno = LoopNative.Errno;
            if (errno == LoopNative.EAGAIN)
            {
                return 0;
            }

            if (errno != LoopNative.EINTR)
            {
                ThrowSendFailed(errno);
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async ValueTask SendRestAsync(Socket socket, ReadOnlyMemory<byte> rest, CancellationToken cancellationToken) =>
        // Socket.SendAsync sends all of it, waiting for room as needed.
        await socket.SendAsync(rest, SocketFlags.None, cancellationToken).ConfigureAwait(false);

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowSendFailed(int errno) =>
        // The same exception a failed Socket.SendAsync gives (connection reset, broken pipe), so callers handle both alike.
        throw new SocketException((int)LoopNative.ToSocketError(errno));

    // LoopNative.send takes a bare descriptor; this one takes the runtime socket's handle, which stays referenced (not
    // closed under the call) while it runs.
    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static unsafe partial nint Send(SafeHandle socket, byte* buffer, nuint length, int flags);
}
