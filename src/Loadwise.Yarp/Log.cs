using Microsoft.Extensions.Logging;

namespace Loadwise.Yarp;

/// <summary>The log lines of the Loadwise policies (source-generated, no allocation when the level is off).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "Destination '{DestinationId}' of cluster '{ClusterId}': {Problem}. The default is used until the configuration is fixed.")]
    public static partial void BadDestinationMetadata(ILogger logger, string destinationId, string clusterId, string problem);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "Cluster '{ClusterId}': {Problem}. Requests without a usable key are spread by weighted round robin until the configuration is fixed.")]
    public static partial void BadClusterMetadata(ILogger logger, string clusterId, string problem);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "Cluster '{ClusterId}': Loadwise built its picker over {Count} destinations.")]
    public static partial void SetBuilt(ILogger logger, string clusterId, int count);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Cluster '{ClusterId}' uses Loadwise.PeakEwma, but no latency is reported: add UseLoadwiseLatency() after UseLoadBalancing() in MapReverseProxy's pipeline, or the policy picks blind.")]
    public static partial void NoLatencyReporting(ILogger logger, string clusterId);
}
