using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using Loadwise.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Loadwise.Generators;

/// <summary>
/// Reports every misuse of the capability attributes (LW0001..LW0017) at the offending attribute or type, using the
/// same <see cref="NodeRules"/> the generator uses to decide what it emits.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class NodeAnalyzer : DiagnosticAnalyzer
{
    /// <inheritdoc/>
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(DiagnosticDescriptors.All);

    /// <inheritdoc/>
    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(static start =>
        {
            // Nothing to check in a compilation that cannot see the attributes (no Loadwise reference).
            if (start.Compilation.GetTypeByMetadataName(CapabilityTable.Of(Capability.Identity).AttributeMetadataName) is not null)
            {
                start.RegisterSymbolAction(AnalyzeType, SymbolKind.NamedType);
            }
        });
    }

    private static void AnalyzeType(SymbolAnalysisContext context)
    {
        var type = (INamedTypeSymbol)context.Symbol;
        List<(ISymbol Member, CapabilityInfo Capability, AttributeData Attribute)>? marked = null;
        foreach (ISymbol member in type.GetMembers())
        {
            if (member is not IPropertySymbol && member is not IFieldSymbol)
            {
                continue;
            }

            foreach (AttributeData attribute in member.GetAttributes())
            {
                if (NodeRules.CapabilityOf(attribute.AttributeClass) is { } capability)
                {
                    (marked ??= []).Add((member, capability, attribute));
                }
            }
        }

        if (marked is null)
        {
            return;
        }

        if (NodeRules.CheckType(type) is { } typeViolation)
        {
            Report(context, typeViolation);
        }

        var firstByCapability = new Dictionary<Capability, ISymbol>();
        foreach ((ISymbol member, CapabilityInfo capability, AttributeData attribute) in marked)
        {
            Location? location = attribute.ApplicationSyntaxReference?.GetSyntax(context.CancellationToken).GetLocation();
            if (NodeRules.CheckMember(member, capability.Kind, location, context.Compilation).Violation is { } memberViolation)
            {
                Report(context, memberViolation);
            }
            else if (capability.Kind == Capability.Priority)
            {
                CheckPriorityInitializer(context, member);
            }

            if (firstByCapability.TryGetValue(capability.Kind, out ISymbol? first))
            {
                if (!SymbolEqualityComparer.Default.Equals(first, member))
                {
                    context.ReportDiagnostic(Diagnostic.Create(
                        DiagnosticDescriptors.DuplicateCapability,
                        location,
                        type.Name,
                        first.Name,
                        member.Name,
                        capability.Attribute,
                        capability.Noun));
                }
            }
            else
            {
                firstByCapability.Add(capability.Kind, member);
            }
        }
    }

    // A literal initializer outside 0..31 is a level that PriorityFilter rejects at run time: report it at compile time.
    private static void CheckPriorityInitializer(SymbolAnalysisContext context, ISymbol member)
    {
        foreach (SyntaxReference reference in member.DeclaringSyntaxReferences)
        {
            EqualsValueClauseSyntax? initializer = reference.GetSyntax(context.CancellationToken) switch
            {
                PropertyDeclarationSyntax property => property.Initializer,
                VariableDeclaratorSyntax variable => variable.Initializer,
                _ => null,
            };
            if (initializer is not null && LiteralValue(initializer.Value) is { } value && (value < 0 || value > 31))
            {
                context.ReportDiagnostic(Diagnostic.Create(
                    DiagnosticDescriptors.PriorityOutOfRange,
                    initializer.Value.GetLocation(),
                    member.Name,
                    value.ToString(CultureInfo.InvariantCulture)));
            }
        }
    }

    private static decimal? LiteralValue(ExpressionSyntax expression) => expression switch
    {
        LiteralExpressionSyntax { Token.Value: IConvertible value } when expression.IsKind(SyntaxKind.NumericLiteralExpression) => value.ToDecimal(CultureInfo.InvariantCulture),
        PrefixUnaryExpressionSyntax { Operand: var operand } when expression.IsKind(SyntaxKind.UnaryMinusExpression) => -LiteralValue(operand),
        ParenthesizedExpressionSyntax { Expression: var inner } => LiteralValue(inner),
        _ => null,
    };

    private static void Report(SymbolAnalysisContext context, RuleViolation violation) =>
        context.ReportDiagnostic(Diagnostic.Create(violation.Descriptor, violation.Location, violation.Arguments));
}
