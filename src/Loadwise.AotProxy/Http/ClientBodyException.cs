namespace Loadwise.AotProxy.Http;

/// <summary>
/// Reading the client's request body failed for the client's own reasons: it left (<see cref="Status"/> 0), or its
/// body broke a limit or arrived too slowly (the status Kestrel answers, such as 400, 408 or 413). Never a mark against
/// a backend.
/// </summary>
/// <example><code>throw new ClientBodyException(0, "the client closed the connection inside its body");</code></example>
internal sealed class ClientBodyException(int status, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>Gets the status to answer, or 0 when the client is gone.</summary>
    public int Status { get; } = status;
}
