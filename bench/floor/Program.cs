using System.Text;
using System.Text.Json;

namespace FloorProxy;

/// <summary>Entry point: reads the config, starts one epoll worker per core, and parks the main thread.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        string? configPath = null;
        string? listenOverride = null, backendOverride = null;
        int workers = Environment.ProcessorCount;
        for (int i = 0; i < args.Length; i++)
        {
            string value = i + 1 < args.Length ? args[i + 1] : "";
            switch (args[i])
            {
                case "--config": configPath = value; i++; break;
                case "--listen": listenOverride = value; i++; break;
                case "--backend": backendOverride = value; i++; break;
                case "--workers": workers = int.Parse(value); i++; break;
                default:
                    Console.Error.WriteLine($"floorproxy: unknown argument '{args[i]}'. Usage: floorproxy --config FILE [--workers N] [--listen http://IP:PORT] [--backend http://IP:PORT]");
                    return 2;
            }
        }

        string? listenUrl = listenOverride, backendUrl = backendOverride;
        if (configPath != null)
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(configPath));
            JsonElement root = doc.RootElement;
            if (listenUrl == null && root.TryGetProperty("Listen", out JsonElement listen))
            {
                listenUrl = listen.ValueKind == JsonValueKind.Array ? listen[0].GetString() : listen.GetString();
            }
            if (backendUrl == null && root.TryGetProperty("Backends", out JsonElement backends) && backends.GetArrayLength() > 0)
            {
                backendUrl = backends[0].GetProperty("Url").GetString();
            }
        }
        if (listenUrl == null || backendUrl == null)
        {
            Console.Error.WriteLine("floorproxy: need a listen address and a backend: --config FILE with \"Listen\":[\"http://IP:PORT\"] and \"Backends\":[{\"Url\":\"http://IP:PORT\"}]");
            return 2;
        }
        if (!TryParseEndpoint(listenUrl, out uint listenIp, out int listenPort, out _)
            || !TryParseEndpoint(backendUrl, out uint backendIp, out int backendPort, out string backendAuthority))
        {
            Console.Error.WriteLine($"floorproxy: Listen '{listenUrl}' and backend Url '{backendUrl}' must be http://IPv4:PORT (IPv4 literal, localhost or *)");
            return 2;
        }

        byte[] hostLine = Encoding.ASCII.GetBytes($"Host: {backendAuthority}\r\n");
        var threads = new Thread[workers];
        for (int i = 0; i < workers; i++)
        {
            // Each worker binds its own SO_REUSEPORT listener here, so a bind error stops startup.
            var worker = new Worker(EndPoint(listenIp, listenPort), EndPoint(backendIp, backendPort), hostLine);
            threads[i] = new Thread(worker.Run) { IsBackground = true, Name = $"floor-worker-{i}" };
        }
        foreach (Thread t in threads)
        {
            t.Start();
        }
        Console.Error.WriteLine($"floorproxy: {workers} epoll workers on {listenUrl} -> {backendUrl}");
        foreach (Thread t in threads)
        {
            t.Join();
        }
        return 0;
    }

    /// <summary>http://A.B.C.D:PORT (also localhost, * and +); the authority is what the Host header gets.</summary>
    /// <summary>An IPv4 address in host byte order and a port as an endpoint.</summary>
    private static System.Net.IPEndPoint EndPoint(uint hostOrderIp, int port) =>
        new(new System.Net.IPAddress(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(hostOrderIp)), port);

    private static bool TryParseEndpoint(string url, out uint ip, out int port, out string authority)
    {
        ip = 0; port = 0; authority = "";
        string s = url.Trim();
        if (s.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            s = s[7..];
        }
        int slash = s.IndexOf('/');
        if (slash >= 0)
        {
            s = s[..slash];
        }
        int colon = s.LastIndexOf(':');
        string host = colon >= 0 ? s[..colon] : s;
        if (colon < 0)
        {
            port = 80;
        }
        else if (!int.TryParse(s[(colon + 1)..], out port) || port is <= 0 or > 65535)
        {
            return false;
        }
        authority = s;
        if (host is "*" or "+" or "0.0.0.0")
        {
            ip = 0;
            return true;
        }
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            ip = 0x7F000001;
            return true;
        }
        string[] parts = host.Split('.');
        if (parts.Length != 4)
        {
            return false;
        }
        foreach (string part in parts)
        {
            if (!byte.TryParse(part, out byte b))
            {
                return false;
            }
            ip = (ip << 8) | b;
        }
        return true;
    }
}
