using Loadwise.AotProxy.Threading;

namespace Loadwise.AotProxy.UnitTests;

public sealed class PerCoreCellsTests
{
    [Fact]
    public async Task Adds_from_many_threads_sum_exactly()
    {
        var cells = new PerCoreCells(3);
        const int Threads = 8;
        const int Adds = 50_000;
        await Task.WhenAll(Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < Adds; i++)
            {
                cells.Add(0, 1);
                cells.Add(2, -2);
                cells.AddDouble(1, 0.5);
            }
        })));

        Assert.Equal(Threads * Adds, cells.Sum(0));
        Assert.Equal(-2L * Threads * Adds, cells.Sum(2));
        Assert.Equal(0.5 * Threads * Adds, cells.SumDouble(1));
    }

    [Fact]
    public void Reset_zeroes_one_cell_on_every_core_and_leaves_the_others()
    {
        var cells = new PerCoreCells(2);
        Parallel.For(0, 1000, _ =>
        {
            cells.Add(0, 1);
            cells.Add(1, 1);
        });

        cells.Reset(0);
        Assert.Equal(0, cells.Sum(0));
        Assert.Equal(1000, cells.Sum(1));
    }

    [Fact]
    public void A_cell_outside_the_width_is_refused_with_its_range()
    {
        var cells = new PerCoreCells(2);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => cells.Add(2, 1));
        Assert.Contains("[0, 2)", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => cells.Sum(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PerCoreCells(0));
    }
}
