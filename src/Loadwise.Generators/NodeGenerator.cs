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
        // One attribute-driven step per capability, folded into one list in table order: the output order of types and
        // members (and so each hint name's suffix) stays the same whatever the number of capabilities.
        IncrementalValueProvider<EquatableArray<MemberCapture>>? collected = null;
        foreach (CapabilityInfo capability in CapabilityTable.All)
        {
            IncrementalValueProvider<ImmutableArray<MemberCapture?>> members = Members(context, capability).Collect();
            collected = collected is { } before
                ? before.Combine(members)
                    .WithTrackingName(TrackingNames.AllCollected)
                    .Select(static (pair, _) => Parser.Append(pair.Left, pair.Right))
                    .WithTrackingName(TrackingNames.AllMembers)
                : members.Select(static (first, _) => Parser.Append(EquatableArray<MemberCapture>.Empty, first));
        }

        IncrementalValuesProvider<NodeTypeModel> nodeTypes = collected!.Value
            .SelectMany(static (captures, cancellationToken) => Parser.Group(captures, cancellationToken))
            .WithTrackingName(TrackingNames.NodeTypes);

        context.RegisterSourceOutput(nodeTypes, static (production, model) => Emitter.Emit(production, model));
    }

    private static IncrementalValuesProvider<MemberCapture?> Members(IncrementalGeneratorInitializationContext context, CapabilityInfo capability)
    {
        Capability kind = capability.Kind;
        return context.SyntaxProvider
            .ForAttributeWithMetadataName(
                capability.AttributeMetadataName,
                static (node, cancellationToken) => Parser.IsCandidate(node, cancellationToken),
                (attributeContext, cancellationToken) => Parser.Capture(attributeContext, kind, cancellationToken))
            .WithTrackingName(capability.TrackingName);
    }
}
