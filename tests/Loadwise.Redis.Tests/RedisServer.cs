using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Loadwise.Redis.Tests;

/// <summary>
/// A real redis-server (Debian's) on a free 127.0.0.1 port, in its own temporary directory, with no persistence. One
/// per test class (a class fixture); tests can kill, restart, pause (SIGSTOP) and resume it.
/// </summary>
public sealed class RedisServer : IAsyncLifetime
{
    private Process? _process;

    public int Port { get; private set; }

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "loadwise-redis-" + Guid.NewGuid().ToString("N")[..12]);

    public string Configuration => $"127.0.0.1:{Port}";

    public async ValueTask InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(Directory);
        Port = FreePort();
        await StartAsync();
    }

    public async Task StartAsync()
    {
        var start = new ProcessStartInfo("redis-server")
        {
            ArgumentList = { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", Directory, "--save", "", "--appendonly", "no", "--loglevel", "warning" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start; install it with: apt-get install redis-server");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(10) && !_process.HasExited)
            {
                await Task.Delay(20);
            }
        }
    }

    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            Signal("-CONT");
            process.Kill();
            process.WaitForExit();
        }
    }

    public void Pause() => Signal("-STOP");

    public void Resume() => Signal("-CONT");

    public ValueTask DisposeAsync()
    {
        Kill();
        _process?.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }

        return ValueTask.CompletedTask;
    }

    private void Signal(string signal)
    {
        if (_process is { HasExited: false } process)
        {
            using var kill = Process.Start("kill", [signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
        }
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
