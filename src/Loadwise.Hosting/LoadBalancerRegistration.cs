using Microsoft.Extensions.Configuration;

namespace Loadwise.Hosting;

/// <summary>
/// What <c>AddLoadwise</c> recorded for one name: the configuration section (if any) and the builder callbacks, in
/// registration order. Kept as named options so that several calls for one name add up.
/// </summary>
/// <typeparam name="TNode">The node type.</typeparam>
/// <example>
/// <code>
/// services.Configure&lt;LoadBalancerRegistration&lt;Uri&gt;&gt;("catalog", r =&gt; r.Callbacks.Add((b, _) =&gt; b.UseLeastLoad()));
/// </code>
/// </example>
public sealed class LoadBalancerRegistration<TNode>
{
    /// <summary>Gets the builder callbacks, run in order after the configuration section is applied.</summary>
    /// <example><code>registration.Callbacks.Add((builder, services) =&gt; builder.WithHealth());</code></example>
    public IList<Action<LoadBalancerBuilder<TNode>, IServiceProvider>> Callbacks { get; } = [];

    /// <summary>Gets or sets the section <see cref="LoadBalancerOptions"/> were bound from, or null when built in code only.</summary>
    /// <example><code>string? path = registration.Section?.Path; // "Loadwise:catalog"</code></example>
    public IConfiguration? Section { get; set; }

    /// <summary>Gets or sets whether the name was registered (an unregistered name has no callbacks and no section).</summary>
    /// <example><code>bool known = registration.IsRegistered;</code></example>
    public bool IsRegistered { get; set; }
}
