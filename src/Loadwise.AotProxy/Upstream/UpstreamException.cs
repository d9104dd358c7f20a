namespace Loadwise.AotProxy.Upstream;

/// <summary>Where an exchange on the proxy's own backend connection failed (<see cref="DirectAttempt"/> maps it to a <see cref="FailureStage"/>).</summary>
internal enum UpstreamError
{
    /// <summary>No connection could be opened: nothing was sent.</summary>
    Connect,

    /// <summary>The request may have been sent, but not one response byte came back.</summary>
    NoResponse,

    /// <summary>The backend answered something that is not valid HTTP/1.x.</summary>
    InvalidResponse,

    /// <summary>The response body broke off.</summary>
    Body,
}

/// <summary>A failed exchange with a backend, with the stage it failed at.</summary>
internal sealed class UpstreamException(UpstreamError error, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>Gets the stage the exchange failed at.</summary>
    public UpstreamError Error { get; } = error;
}
