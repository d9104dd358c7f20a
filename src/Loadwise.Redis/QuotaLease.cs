using StackExchange.Redis;

namespace Loadwise.Redis;

/// <summary>One node's limits as <see cref="SharedQuota{TId}"/> sends them to Redis, and its lease.</summary>
internal sealed class SharedNodeLimits
{
    public SharedNodeLimits(string name, QuotaLimit[] limits, RedisStateKeys keys)
    {
        Name = name;
        Limits = limits;
        Keys = new RedisKey[limits.Length];
        WindowMs = new long[limits.Length];
        for (int i = 0; i < limits.Length; i++)
        {
            Keys[i] = keys.Quota(name, limits[i].Name);
            WindowMs[i] = Math.Max(1, (long)limits[i].Window.TotalMilliseconds);
        }
    }

    public string Name { get; }

    public QuotaLimit[] Limits { get; }

    public RedisKey[] Keys { get; }

    public long[] WindowMs { get; }

    public QuotaLease Lease { get; } = new();

    /// <summary>What one charge of <paramref name="cost"/> uses of dimension <paramref name="i"/>.</summary>
    public double Need(int i, double cost) => Limits[i].Unit switch
    {
        QuotaUnit.Requests => 1,
        QuotaUnit.Cost => cost,
        _ => 0,
    };

    /// <summary>The charge script's arguments: for each dimension what the charge needs and what to take (a lease asks more).</summary>
    public RedisValue[] Arguments(double cost, double leaseFraction, double[]? give, long[]? giveWindows)
    {
        var arguments = new RedisValue[Limits.Length * QuotaScripts.ArgumentsPerDimension];
        for (int i = 0; i < Limits.Length; i++)
        {
            QuotaLimit limit = Limits[i];
            double need = Need(i, cost);
            double ask = leaseFraction <= 0 || limit.Unit == QuotaUnit.Manual
                ? need
                : Math.Max(need, limit.Unit == QuotaUnit.Requests ? Math.Floor(limit.Limit * leaseFraction) : limit.Limit * leaseFraction);
            int at = i * QuotaScripts.ArgumentsPerDimension;
            arguments[at] = limit.Limit;
            arguments[at + 1] = WindowMs[i];
            arguments[at + 2] = need;
            arguments[at + 3] = ask;
            arguments[at + 4] = give is null ? 0 : give[i];
            arguments[at + 5] = giveWindows is null ? 0 : giveWindows[i];
            arguments[at + 6] = (int)limit.Unit;
        }

        return arguments;
    }
}

/// <summary>
/// Quota an instance has taken from Redis and spends locally until it runs out or its window ends (Redis's window end,
/// measured on the local monotonic clock from the grant's reply). One renewal at a time; a renewal gives back what is
/// left.
/// </summary>
internal sealed class QuotaLease
{
    private readonly Lock _gate = new();
    private double[]? _left;
    private long[]? _windows;
    private long _expiresAt;

    public SemaphoreSlim Renewal { get; } = new(1, 1);

    public bool TryTake(SharedNodeLimits node, double cost, long now, out long[]? windows)
    {
        lock (_gate)
        {
            windows = _windows;
            if (_left is null || now >= _expiresAt)
            {
                return false;
            }

            for (int i = 0; i < _left.Length; i++)
            {
                if (node.Limits[i].Unit != QuotaUnit.Manual && _left[i] < node.Need(i, cost))
                {
                    return false;
                }
            }

            for (int i = 0; i < _left.Length; i++)
            {
                _left[i] -= node.Need(i, cost);
            }

            return true;
        }
    }

    public (double[]? Give, long[]? Windows) Surrender()
    {
        lock (_gate)
        {
            (double[]? give, long[]? windows) = (_left, _windows);
            _left = null;
            return (give, windows);
        }
    }

    public void Grant(SharedNodeLimits node, double cost, ChargeReply reply, TimeProvider time)
    {
        long untilEnd = long.MaxValue;
        var left = new double[reply.Taken.Length];
        for (int i = 0; i < left.Length; i++)
        {
            left[i] = Math.Max(0, reply.Taken[i] - node.Need(i, cost));
            untilEnd = Math.Min(untilEnd, ((reply.Windows[i] + 1) * node.WindowMs[i]) - reply.RedisMilliseconds);
        }

        lock (_gate)
        {
            _left = left;
            _windows = reply.Windows;
            _expiresAt = time.GetTimestamp() + (Math.Max(0, untilEnd) * time.TimestampFrequency / 1000);
        }
    }
}
