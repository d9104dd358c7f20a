using Microsoft.Extensions.Logging;

namespace Loadwise.Yarp.Tests;

/// <summary>Keeps the formatted lines logged at Information or above.</summary>
internal sealed class CollectingLogger : ILogger<WeightedRoundRobinPolicy>
{
    public List<string> Lines { get; } = [];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            Lines.Add(formatter(state, exception));
        }
    }
}
