using System.Runtime.CompilerServices;

namespace Loadwise.Internal;

/// <summary>
/// The random numbers behind Random, WeightedRandom and PowerOfTwoChoices. Unseeded, each thread has its own SplitMix64
/// state (no shared writes, so no cache-line ping-pong between cores). Seeded, one shared state advances atomically, so
/// a single-threaded sequence is reproducible for tests.
/// </summary>
internal sealed class RandomSource
{
    private const ulong Gamma = 0x9E3779B97F4A7C15UL;

    [ThreadStatic]
    private static ulong t_state;

    private readonly bool _seeded;
    private ulong _state;

    public RandomSource(ulong? seed)
    {
        _seeded = seed.HasValue;
        _state = seed.GetValueOrDefault();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong NextUInt64()
    {
        if (_seeded)
        {
            return Mix(Interlocked.Add(ref _state, Gamma));
        }

        ulong state = t_state;
        if (state == 0)
        {
            state = SeedThread();
        }

        state += Gamma;
        t_state = state;
        return Mix(state);
    }

    /// <summary>A uniform integer in [0, bound) from the high 32 bits (Lemire's multiply-shift; bias &lt; bound / 2^32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Bounded(ulong random, int bound) => (int)(((random >> 32) * (ulong)(uint)bound) >> 32);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int NextInt(int bound) => Bounded(NextUInt64(), bound);

    /// <summary>A uniform integer in [0, bound) for 64-bit bounds (used on slow paths only).</summary>
    public long NextInt64(long bound) => (long)(NextUInt64() % (ulong)bound);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ulong SeedThread()
    {
        ulong seed = (ulong)System.Random.Shared.NextInt64() | 1;
        t_state = seed;
        return seed;
    }
}
