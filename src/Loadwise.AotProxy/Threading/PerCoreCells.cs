using System.Numerics;
using System.Runtime.CompilerServices;

namespace Loadwise.AotProxy.Threading;

/// <summary>
/// A few 64-bit cells kept once per core, each core's copy on its own cache lines, so that counters every request
/// touches (requests, in-flight, histogram buckets) are updated without two cores fighting over one line. A write goes
/// to the current core's copy (still atomic: two threads may share a core); a read sums the copies (the measurement is
/// in bench/results/proxy-design-measurements.md).
/// </summary>
internal sealed class PerCoreCells
{
    /// <summary>128 bytes in longs: a line and the neighbour the adjacent-line prefetcher pulls in with it.</summary>
    private const int LineLongs = 16;

    /// <summary>Copies at most: beyond 16 cores a copy is shared by a few of them, which keeps memory small.</summary>
    private const int MaxCopies = 16;

    private static readonly int Copies = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(Environment.ProcessorCount, 1, MaxCopies));

    private readonly long[] _cells;
    private readonly int _stride;

    /// <summary>Creates <paramref name="width"/> cells, all zero.</summary>
    public PerCoreCells(int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        Width = width;
        _stride = (width + LineLongs - 1) / LineLongs * LineLongs;

        // A line of padding in front keeps the first copy off the array's header and whatever was allocated before it.
        _cells = new long[LineLongs + (Copies * _stride)];
    }

    /// <summary>Gets the number of cells.</summary>
    public int Width { get; }

    /// <summary>Adds to a cell in the current core's copy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(int cell, long delta) => Interlocked.Add(ref Local(cell), delta);

    /// <summary>Adds to a cell, read as a double, in the current core's copy.</summary>
    public void AddDouble(int cell, double delta)
    {
        ref long bits = ref Local(cell);
        long current = Volatile.Read(ref bits);
        while (true)
        {
            long updated = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(current) + delta);
            long seen = Interlocked.CompareExchange(ref bits, updated, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>Gets a cell's total over all cores.</summary>
    public long Sum(int cell)
    {
        CheckCell(cell);
        long sum = 0;
        for (int copy = 0; copy < Copies; copy++)
        {
            sum += Volatile.Read(ref _cells[LineLongs + (copy * _stride) + cell]);
        }

        return sum;
    }

    /// <summary>Gets a cell's total over all cores, the cell read as a double.</summary>
    public double SumDouble(int cell)
    {
        CheckCell(cell);
        double sum = 0;
        for (int copy = 0; copy < Copies; copy++)
        {
            sum += BitConverter.Int64BitsToDouble(Volatile.Read(ref _cells[LineLongs + (copy * _stride) + cell]));
        }

        return sum;
    }

    /// <summary>Sets a cell to zero on every core (updates racing with it may survive or be lost).</summary>
    public void Reset(int cell)
    {
        CheckCell(cell);
        for (int copy = 0; copy < Copies; copy++)
        {
            Volatile.Write(ref _cells[LineLongs + (copy * _stride) + cell], 0);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref long Local(int cell)
    {
        CheckCell(cell);
        return ref _cells[LineLongs + ((Thread.GetCurrentProcessorId() & (Copies - 1)) * _stride) + cell];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CheckCell(int cell)
    {
        if ((uint)cell >= (uint)Width)
        {
            ThrowCellOutOfRange(cell);
        }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowCellOutOfRange(int cell) =>
        throw new ArgumentOutOfRangeException(nameof(cell), cell, $"cell must be in [0, {Width})");
}
