namespace Loadwise;

/// <summary>
/// A node with a priority level: 0 is primary, 1 the first fallback level, and so on up to 31.
/// <see cref="PriorityFilter{TNode, TAccessor, THealth}"/> sends traffic to lower levels first.
/// </summary>
/// <example>
/// <code>
/// public readonly record struct Backend(string Address, int Priority) : IPrioritized;
/// </code>
/// </example>
public interface IPrioritized
{
    /// <summary>Gets the node's priority level, 0 (primary) to 31.</summary>
    /// <example><code>int level = backend.Priority;</code></example>
    int Priority { get; }
}

/// <summary>Reads a node's priority level without interface dispatch.</summary>
/// <typeparam name="TNode">The node type.</typeparam>
/// <example>
/// <code>
/// public readonly struct BackendPriority : IPriorityAccessor&lt;Backend&gt;
/// {
///     public static int GetPriority(in Backend node) =&gt; node.Tier;
/// }
/// </code>
/// </example>
public interface IPriorityAccessor<TNode>
{
    /// <summary>Returns the priority level of <paramref name="node"/>, 0 to 31.</summary>
    /// <param name="node">The node to read.</param>
    /// <returns>The level.</returns>
    /// <example><code>int level = BackendPriority.GetPriority(in backend);</code></example>
    static abstract int GetPriority(in TNode node);
}

/// <summary>The built-in priority accessor for node types that implement <see cref="IPrioritized"/>.</summary>
/// <typeparam name="TNode">A node type implementing <see cref="IPrioritized"/>.</typeparam>
/// <example><code>var priorities = new PriorityFilter&lt;Backend, PriorityAccessor&lt;Backend&gt;, HealthFilter&lt;Backend, string, NodeAccessor&lt;Backend, string&gt;&gt;&gt;(panic);</code></example>
public readonly struct PriorityAccessor<TNode> : IPriorityAccessor<TNode>
    where TNode : IPrioritized
{
    /// <inheritdoc/>
    public static int GetPriority(in TNode node) => node.Priority;
}
