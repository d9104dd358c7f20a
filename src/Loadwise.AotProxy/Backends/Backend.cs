using System.Runtime.CompilerServices;

namespace Loadwise.AotProxy.Backends;

/// <summary>
/// One backend's runtime state: where it is, and its in-flight count (the load metric). Shared by every request; the
/// strategies see it through <see cref="BackendNode"/>.
/// </summary>
internal sealed class Backend
{
    private int _inFlight;
    private long _attempts;
    private int _weight;
    private int _capacity;
    private volatile bool _drained;

    public Backend(string id, Uri url, int weight, int capacity)
    {
        Id = id;
        Url = url;
        _weight = weight;
        _capacity = capacity;
        // scheme://host:port/base-path without the trailing slash: the raw request target ("/x?y") is appended to it.
        UrlPrefix = url.GetLeftPart(UriPartial.Path).TrimEnd('/');
        Authority = url.IsDefaultPort ? url.IdnHost : $"{url.IdnHost}:{url.Port}";
        MetricTag = new KeyValuePair<string, object?>("backend", id);
    }

    public string Id { get; }

    public Uri Url { get; }

    /// <summary>Gets whether the backend is reached over HTTP/2 (through HttpClient, streams multiplexed on a few connections).</summary>
    public bool Http2 { get; init; }

    public int Weight => Volatile.Read(ref _weight);

    public int Capacity => Volatile.Read(ref _capacity);

    /// <summary>Gets the last minute of this backend's requests: rate, latency, errors (the admin API's figures).</summary>
    public BackendStats Stats { get; } = new();

    /// <summary>
    /// Gets or sets whether an operator took the backend out of service (drain): no new request goes to it, those in
    /// flight finish. It stays out, across reloads, until it is set back in service.
    /// </summary>
    public bool Drained
    {
        get => _drained;
        set => _drained = value;
    }

    /// <summary>Gets the backend's administrative state: in service, draining (taken out, requests still in flight) or maintenance.</summary>
    public string AdminState => !_drained ? "in_service" : InFlight > 0 ? "draining" : "maintenance";

    /// <summary>Takes a reloaded configuration's weight and capacity (the same backend, same URL, kept across the reload).</summary>
    public void Reconfigure(int weight, int capacity)
    {
        Volatile.Write(ref _weight, weight);
        Volatile.Write(ref _capacity, capacity);
    }

    public string UrlPrefix { get; }

    public string Authority { get; }

    /// <summary>Gets the cached <c>backend</c> metric tag, so recording a measurement allocates nothing.</summary>
    public KeyValuePair<string, object?> MetricTag { get; }

    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Gets how many forwarding attempts (first tries and retries) were sent to this backend.</summary>
    public long Attempts => Volatile.Read(ref _attempts);

    /// <summary>Gets or sets the backend's live health handle in the proxy's tracker (one volatile read per look).</summary>
    public NodeHealth<string>? Health { get; set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Enter()
    {
        Interlocked.Increment(ref _inFlight);
        Interlocked.Increment(ref _attempts);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Leave() => Interlocked.Decrement(ref _inFlight);
}

/// <summary>
/// The node type the strategies pick from: a struct over <see cref="Backend"/> carrying every capability (identity,
/// weight, in-flight load, remaining capacity, priority level) so that any Core strategy and filter can be configured.
/// </summary>
/// <param name="backend">The backend.</param>
/// <param name="priority">Its priority level in this configuration (0 = primary; backups come after the primaries).</param>
internal readonly struct BackendNode(Backend backend, int priority = 0) : INode<string>, IWeighted, ILoadMetric, IRemainingCapacity, IPrioritized
{
    public Backend Backend { get; } = backend;

    /// <summary>Gets the priority level the priority filter reads (a configuration's, so it lives here and not on the shared backend).</summary>
    public int Priority { get; } = priority;

    public string Id => Backend.Id;

    public int Weight => Backend.Weight;

    public double LoadScore => Backend.InFlight;

    /// <summary>
    /// Gets the share of capacity left: <c>1 - inFlight / Capacity</c> when a capacity is configured, otherwise
    /// <c>1 / (1 + inFlight)</c>, which still ranks an idle backend above a busy one.
    /// </summary>
    public double RemainingRatio
    {
        get
        {
            int inFlight = Backend.InFlight;
            int capacity = Backend.Capacity;
            return capacity > 0 ? Math.Max(0, 1 - ((double)inFlight / capacity)) : 1.0 / (1 + inFlight);
        }
    }
}
