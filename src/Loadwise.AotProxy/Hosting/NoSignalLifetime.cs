namespace Loadwise.AotProxy.Hosting;

/// <summary>
/// A host lifetime that does not listen for SIGINT/SIGTERM: for hosts whose owner stops them (the demo backends,
/// stopped after the proxy has drained, and proxies started by tests).
/// </summary>
internal sealed class NoSignalLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
