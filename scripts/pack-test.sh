#!/usr/bin/env bash
# Packs Loadwise (src/Loadwise.Core), Loadwise.Hosting, Loadwise.Http, Loadwise.Grpc and Loadwise.Yarp to a local
# folder feed, then builds and runs fresh apps OUTSIDE the solution: one references only Loadwise, annotates a type, and
# checks that generated selection works (one PackageReference gives the attributes, the strategies and the source
# generator); one references only Loadwise.Http and sends requests through a load-balanced HttpClient; one references
# only Loadwise.Grpc and calls two loopback gRPC servers through loadwise_round_robin; one is a YARP app that picks by
# weight with Loadwise.Yarp.
# Usage: bash scripts/pack-test.sh            Exit status: 0 on success, non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
feed="$root/artifacts/local-feed"
version="0.1.0-packtest.$(date +%Y%m%d%H%M%S)"
work="$(mktemp -d "${TMPDIR:-/tmp}/loadwise-pack-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT

rm -rf "$feed"
mkdir -p "$feed"
# A unique prerelease version, so no NuGet cache can hand back an older build of the same version.
dotnet pack "$root/src/Loadwise.Core/Loadwise.Core.csproj" -c Release -o "$feed" --nologo -v minimal -p:Version="$version"
dotnet pack "$root/src/Loadwise.Hosting/Loadwise.Hosting.csproj" -c Release -o "$feed" --nologo -v minimal -p:Version="$version"
dotnet pack "$root/src/Loadwise.Http/Loadwise.Http.csproj" -c Release -o "$feed" --nologo -v minimal -p:Version="$version"
dotnet pack "$root/src/Loadwise.Grpc/Loadwise.Grpc.csproj" -c Release -o "$feed" --nologo -v minimal -p:Version="$version"
for id in Loadwise.Hosting Loadwise.Http Loadwise.Grpc; do
  [ -f "$feed/$id.$version.nupkg" ] || { echo "pack-test: FAIL: $id.$version.nupkg was not produced" >&2; exit 1; }
done

package="$feed/Loadwise.$version.nupkg"
[ -f "$package" ] || { echo "pack-test: FAIL: $package was not produced" >&2; exit 1; }
python3 - "$package" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
required = ["analyzers/dotnet/cs/Loadwise.Generators.dll", "lib/net10.0/Loadwise.Core.dll"]
missing = [n for n in required if n not in names]
if missing:
    sys.exit("pack-test: FAIL: package lacks " + ", ".join(missing) + "; it has " + ", ".join(names))
print("pack-test: package layout ok (" + ", ".join(required) + ")")
PY

app="$work/PackConsumer"
mkdir -p "$app"
cat > "$work/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="loadwise-local" value="$feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
  </packageSources>
</configuration>
XML
# Empty Directory.Build.props/targets stop MSBuild from walking up into anything above the temp folder.
echo '<Project />' > "$work/Directory.Build.props"
echo '<Project />' > "$work/Directory.Build.targets"
cat > "$app/PackConsumer.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <!-- A strict user project: the generated code must be warning-free and fully documented. -->
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
    <GenerateDocumentationFile>true</GenerateDocumentationFile>
    <NoWarn>\$(NoWarn);CS1591</NoWarn>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Loadwise" Version="$version" />
  </ItemGroup>
</Project>
XML
cat > "$app/Program.cs" <<'CS'
using Loadwise;

Backend[] backends =
[
    new() { Address = "10.0.0.1:80", Weight = 1, InFlight = 5 },
    new() { Address = "10.0.0.2:80", Weight = 2, InFlight = 1 },
    new() { Address = "10.0.0.3:80", Weight = 3, InFlight = 3 },
];

var leastLoad = Backend.Selectors.LeastLoad();
Console.WriteLine(leastLoad.TrySelect(backends, SelectionContext.Empty, out int least) ? $"LeastLoad={backends[least].Address}" : "LeastLoad=none");

var weighted = Backend.Selectors.WeightedRoundRobin();
var counts = new int[backends.Length];
for (int i = 0; i < 6; i++)
{
    weighted.TrySelect(backends, SelectionContext.Empty, out int picked);
    counts[picked]++;
}

Console.WriteLine($"WeightedRoundRobin={string.Join(",", counts)}");
var ring = Backend.Selectors.ConsistentHash();
ring.TrySelect(backends, SelectionContext.ForKey("user-42"), out int first);
ring.TrySelect(backends, SelectionContext.ForKey("user-42"), out int again);
Console.WriteLine($"ConsistentHashStable={first == again}");
Console.WriteLine($"Accessor={typeof(Backend.LoadwiseAccessor).FullName}");
Console.WriteLine("GENERATED-SELECTION-OK");

/// <summary>A backend as a user annotates it.</summary>
public partial struct Backend
{
    /// <summary>Gets the address (identity).</summary>
    [Node] public string Address { get; init; }

    /// <summary>Gets the weight.</summary>
    [Weighted] public int Weight { get; init; }

    /// <summary>Gets or sets the requests in flight.</summary>
    [LoadMetric] public double InFlight { get; set; }
}
CS

cd "$app"
# Own packages folder: the freshly packed Loadwise is the one restored.
dotnet restore --configfile "$work/nuget.config" --packages "$work/packages" --nologo -v minimal
dotnet build -c Release --no-restore --nologo -v minimal
output="$(dotnet run -c Release --no-build)"
echo "$output"

expect() {
  if ! grep -qxF "$1" <<<"$output"; then
    echo "pack-test: FAIL: expected line '$1'" >&2
    exit 1
  fi
}
expect "LeastLoad=10.0.0.2:80"
expect "WeightedRoundRobin=1,2,3"
expect "ConsistentHashStable=True"
expect "Accessor=Backend+LoadwiseAccessor"
expect "GENERATED-SELECTION-OK"

# A consumer project: write_project DIR NAME SDK REFERENCES (MSBuild items), then run_consumer DIR builds it from the
# local feed alone and runs it, leaving its output in $output for expect.
write_project() {
  mkdir -p "$1"
  cat > "$1/$2.csproj" <<XML
<Project Sdk="$3">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
  </PropertyGroup>
  <ItemGroup>
$4
  </ItemGroup>
</Project>
XML
}
run_consumer() {
  cd "$1"
  dotnet restore --configfile "$work/nuget.config" --packages "$work/packages" --nologo -v minimal
  dotnet build -c Release --no-restore --nologo -v minimal
  output="$(dotnet run -c Release --no-build)"
  echo "$output"
}

# A fresh app that uses Loadwise.Http (and through it Loadwise.Hosting and Loadwise) from the feed alone.
http="$work/HttpConsumer"
write_project "$http" HttpConsumer Microsoft.NET.Sdk '    <PackageReference Include="Loadwise.Http" Version="'"$version"'" />'
cat > "$http/Program.cs" <<'CS'
using System.Net;
using Loadwise;
using Loadwise.Http;
using Microsoft.Extensions.DependencyInjection;

var services = new ServiceCollection();
services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
    .AddLoadwise(o =>
    {
        o.Endpoints = ["http://10.0.0.1:8080", "http://10.0.0.2:8080"];
        o.Balancer.Strategy.Name = "RoundRobin";
    })
    .ConfigurePrimaryHttpMessageHandler(() => new Echo());
using ServiceProvider provider = services.BuildServiceProvider();
HttpClient client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
var targets = new List<string>();
for (int i = 0; i < 4; i++)
{
    targets.Add(await client.GetStringAsync("/items?page=" + i));
}

Console.WriteLine("Targets=" + string.Join(",", targets));
LoadBalancer<string> front = LoadBalancer.For<string>().UseLeastLoad().WithHealth().Build(["a", "b"]);
Console.WriteLine(front.TryAcquire(SelectionContext.Empty, out NodeLease<string> lease) ? "FrontDoor=" + lease.Node : "FrontDoor=none");
lease.Dispose(Outcome.Success);
Console.WriteLine("HTTP-LOADWISE-OK");

sealed class Echo : HttpMessageHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(request.RequestUri!.Authority + request.RequestUri.PathAndQuery) });
}
CS
run_consumer "$http"
expect "Targets=10.0.0.1:8080/items?page=0,10.0.0.2:8080/items?page=1,10.0.0.1:8080/items?page=2,10.0.0.2:8080/items?page=3"
expect "FrontDoor=a"
expect "HTTP-LOADWISE-OK"
# Loadwise.Yarp: packed with the same version, then a fresh YARP app from the feed alone picks by weight.
dotnet pack "$root/src/Loadwise.Yarp/Loadwise.Yarp.csproj" -c Release -o "$feed" --nologo -v minimal -p:Version="$version"
[ -f "$feed/Loadwise.Yarp.$version.nupkg" ] || { echo "pack-test: FAIL: Loadwise.Yarp.$version.nupkg was not produced" >&2; exit 1; }
yarp="$work/YarpConsumer"
write_project "$yarp" YarpConsumer Microsoft.NET.Sdk.Web '    <PackageReference Include="Loadwise.Yarp" Version="'"$version"'" />'
cat > "$yarp/Program.cs" <<'CS'
using System.Net;
using Loadwise.Yarp;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Yarp.ReverseProxy.Configuration;

static async Task<WebApplication> StartAsync(Action<WebApplicationBuilder> services, Action<WebApplication> map)
{
    WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
    services(builder);
    WebApplication app = builder.Build();
    map(app);
    await app.StartAsync();
    return app;
}

static string Address(WebApplication app) => app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

WebApplication a = await StartAsync(_ => { }, app => app.Run(c => c.Response.WriteAsync("a")));
WebApplication b = await StartAsync(_ => { }, app => app.Run(c => c.Response.WriteAsync("b")));
var cluster = new ClusterConfig
{
    ClusterId = "c",
    LoadBalancingPolicy = LoadwisePolicies.WeightedRoundRobin,
    Destinations = new Dictionary<string, DestinationConfig>
    {
        ["a"] = new() { Address = Address(a), Metadata = new Dictionary<string, string> { [LoadwiseMetadata.Weight] = "2" } },
        ["b"] = new() { Address = Address(b) },
    },
};
var route = new RouteConfig { RouteId = "r", ClusterId = "c", Match = new RouteMatch { Path = "{**catch-all}" } };
WebApplication proxy = await StartAsync(
    builder => builder.Services.AddReverseProxy().LoadFromMemory([route], [cluster]).AddLoadwisePolicies(),
    app => app.MapReverseProxy());
using var client = new HttpClient { BaseAddress = new Uri(Address(proxy)) };
var answers = new List<string>();
for (int i = 0; i < 6; i++)
{
    answers.Add(await client.GetStringAsync("/"));
}

Console.WriteLine("Counts=a:" + answers.Count(x => x == "a") + ",b:" + answers.Count(x => x == "b"));
Console.WriteLine("YARP-LOADWISE-OK");
await proxy.DisposeAsync();
await a.DisposeAsync();
await b.DisposeAsync();
CS
run_consumer "$yarp"
expect "Counts=a:4,b:2"
expect "YARP-LOADWISE-OK"
# A fresh app that uses Loadwise.Grpc from the feed: two Kestrel servers on loopback answer gRPC framing by hand
# (no generated code), and a Grpc.Net.Client channel with loadwise_round_robin alternates between them.
grpcapp="$work/GrpcConsumer"
write_project "$grpcapp" GrpcConsumer Microsoft.NET.Sdk '    <FrameworkReference Include="Microsoft.AspNetCore.App" />
    <PackageReference Include="Loadwise.Grpc" Version="'"$version"'" />'
cat > "$grpcapp/Program.cs" <<'CS'
using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Loadwise.Grpc;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

var addresses = new List<BalancerAddress>();
foreach (string name in new[] { "a", "b" })
{
    WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
    WebApplication app = builder.Build();
    app.MapPost("/pack.Test/Name", async (HttpContext context) =>
    {
        context.Response.ContentType = "application/grpc";
        context.Response.AppendTrailer("grpc-status", "0");
        await context.Response.Body.WriteAsync(new byte[] { 0, 0, 0, 0, 1, (byte)name[0] });
    });
    await app.StartAsync();
    addresses.Add(new BalancerAddress("127.0.0.1", new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single()).Port));
}

using ServiceProvider services = new ServiceCollection()
    .AddLoadwiseGrpcBalancers()
    .AddSingleton<ResolverFactory>(new StaticResolverFactory(_ => addresses))
    .BuildServiceProvider();
Console.WriteLine("Policies=" + string.Join(",", services.GetServices<LoadBalancerFactory>().Select(f => f.Name)));
Console.WriteLine("Problem=" + new LoadwiseBalancingConfig(LoadwisePolicies.RingHash).Validate()[0].Split(';')[0]);
using GrpcChannel channel = GrpcChannel.ForAddress("static:///pack", new GrpcChannelOptions
{
    Credentials = ChannelCredentials.Insecure,
    ServiceProvider = services,
    HttpHandler = new LoadwiseGrpcHandler(),
    ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new LoadwiseBalancingConfig(LoadwisePolicies.RoundRobin) } },
});
var method = new Method<byte[], byte[]>(MethodType.Unary, "pack.Test", "Name", Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));
CallInvoker invoker = channel.CreateCallInvoker();
var seen = new HashSet<char>();
for (int i = 0; i < 40 && seen.Count < 2; i++)
{
    seen.Add((char)(await invoker.AsyncUnaryCall(method, null, default, [])).Single());
    await Task.Delay(25);
}

var answers = new List<char>();
for (int i = 0; i < 4; i++)
{
    answers.Add((char)(await invoker.AsyncUnaryCall(method, null, default, [])).Single());
}

Console.WriteLine("Alternates=" + (answers.Distinct().Count() == 2 && answers[0] != answers[1] && answers[0] == answers[2]));
Console.WriteLine("GRPC-LOADWISE-OK");
Environment.Exit(0);
CS
run_consumer "$grpcapp"
expect "Policies=loadwise_round_robin,loadwise_p2c,loadwise_least_request,loadwise_weighted_least_request,loadwise_wrr,loadwise_ring_hash,loadwise_maglev"
expect "Problem=loadwise_ring_hash:hashHeader: missing"
expect "Alternates=True"
expect "GRPC-LOADWISE-OK"
echo "pack-test: OK (Loadwise, Loadwise.Hosting, Loadwise.Http, Loadwise.Grpc and Loadwise.Yarp $version from $feed)"
