using System.Collections.Immutable;
using Loadwise.Generators.Model;
using Microsoft.CodeAnalysis;

namespace Loadwise.Generators;

/// <summary>
/// Generates, for each type with [Node], [Weighted], [LoadMetric] or [RemainingCapacity] members, the capability
/// interfaces, a nested accessor struct and typed strategy factories. Reports nothing: <see cref="NodeAnalyzer"/> does,
/// from the same <see cref="NodeRules"/>; whatever fails a rule is simply not emitted.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class NodeGenerator : IIncrementalGenerator
{
    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<MemberCapture?> identity = Members(context, KnownNames.NodeAttribute, Capability.Identity, TrackingNames.IdentityMembers);
        IncrementalValuesProvider<MemberCapture?> weight = Members(context, KnownNames.WeightedAttribute, Capability.Weight, TrackingNames.WeightMembers);
        IncrementalValuesProvider<MemberCapture?> load = Members(context, KnownNames.LoadMetricAttribute, Capability.Load, TrackingNames.LoadMembers);
        IncrementalValuesProvider<MemberCapture?> remaining = Members(context, KnownNames.RemainingCapacityAttribute, Capability.RemainingCapacity, TrackingNames.RemainingCapacityMembers);

        IncrementalValueProvider<(ImmutableArray<MemberCapture?> Identity, ImmutableArray<MemberCapture?> Weight)> first = identity.Collect()
            .Combine(weight.Collect())
            .WithTrackingName(TrackingNames.IdentityAndWeight);
        IncrementalValueProvider<(ImmutableArray<MemberCapture?> Load, ImmutableArray<MemberCapture?> Remaining)> second = load.Collect()
            .Combine(remaining.Collect())
            .WithTrackingName(TrackingNames.LoadAndCapacity);

        IncrementalValuesProvider<NodeTypeModel> nodeTypes = first.Combine(second)
            .WithTrackingName(TrackingNames.AllCollected)
            .Select(static (all, _) => Parser.Merge(all))
            .WithTrackingName(TrackingNames.AllMembers)
            .SelectMany(static (captures, cancellationToken) => Parser.Group(captures, cancellationToken))
            .WithTrackingName(TrackingNames.NodeTypes);

        context.RegisterSourceOutput(nodeTypes, static (production, model) => Emitter.Emit(production, model));
    }

    private static IncrementalValuesProvider<MemberCapture?> Members(IncrementalGeneratorInitializationContext context, string attribute, Capability capability, string trackingName) =>
        context.SyntaxProvider
            .ForAttributeWithMetadataName(
                attribute,
                static (node, cancellationToken) => Parser.IsCandidate(node, cancellationToken),
                (attributeContext, cancellationToken) => Parser.Capture(attributeContext, capability, cancellationToken))
            .WithTrackingName(trackingName);
}
