using System.Buffers;
using System.Net.WebSockets;
using System.Text;

namespace Loadwise.AotProxy.Hosting;

/// <summary>
/// The demo backends' WebSocket echo at <c>/ws</c>: every frame comes back as it came (text or binary, fragments kept),
/// a close is answered with the same code and reason, and the text message <c>close:CODE</c> makes the backend close
/// first with that code.
/// </summary>
/// <example><code>
/// if (context.WebSockets.IsWebSocketRequest) { await WebSocketEcho.RunAsync(context); }
/// </code></example>
internal static class WebSocketEcho
{
    public static async Task RunAsync(HttpContext context)
    {
        using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync().ConfigureAwait(false);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (true)
            {
                WebSocketReceiveResult received = await socket.ReceiveAsync(buffer, context.RequestAborted).ConfigureAwait(false);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(received.CloseStatus ?? WebSocketCloseStatus.NormalClosure, received.CloseStatusDescription, context.RequestAborted).ConfigureAwait(false);
                    return;
                }

                if (received.MessageType == WebSocketMessageType.Text && received.EndOfMessage && received.Count <= 16
                    && Encoding.ASCII.GetString(buffer, 0, received.Count) is { } text && text.StartsWith("close:", StringComparison.Ordinal)
                    && int.TryParse(text.AsSpan(6), System.Globalization.CultureInfo.InvariantCulture, out int code))
                {
                    await socket.CloseAsync((WebSocketCloseStatus)code, "closed by the backend", context.RequestAborted).ConfigureAwait(false);
                    return;
                }

                await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, context.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            // The client or the proxy went away: nothing to answer.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
