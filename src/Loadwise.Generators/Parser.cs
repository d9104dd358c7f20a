using System.Collections.Generic;
using System.Collections.Immutable;
using System.Text;
using System.Threading;
using Loadwise.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Loadwise.Generators;

/// <summary>Turns attributed members into equatable models. Reads symbols here and nowhere later in the pipeline.</summary>
internal static class Parser
{
    private static readonly SymbolDisplayFormat TypeNameFormat = SymbolDisplayFormat.FullyQualifiedFormat;

    /// <summary>The cheap syntax test run on every node with one of the attributes: a property, indexer or field.</summary>
    public static bool IsCandidate(SyntaxNode node, CancellationToken cancellationToken) =>
        node is PropertyDeclarationSyntax or IndexerDeclarationSyntax or VariableDeclaratorSyntax { Parent.Parent: FieldDeclarationSyntax };

    /// <summary>Captures one attributed member, or returns null for anything that is not a property or field.</summary>
    public static MemberCapture? Capture(GeneratorAttributeSyntaxContext context, Capability capability, CancellationToken cancellationToken)
    {
        ISymbol member = context.TargetSymbol;
        if (member is not IPropertySymbol && member is not IFieldSymbol)
        {
            return null;
        }

        if (member.ContainingType is not { } containingType)
        {
            return null;
        }

        cancellationToken.ThrowIfCancellationRequested();
        TypeModel type = CaptureType(containingType);
        MemberVerdict verdict = NodeRules.CheckMember(member, capability, attributeLocation: null, context.SemanticModel.Compilation);
        return new MemberCapture(
            type,
            capability,
            Escape(member.Name),
            verdict.ValueType?.ToDisplayString(TypeNameFormat) ?? string.Empty,
            verdict.Conversion,
            verdict.IsUsable);
    }

    /// <summary>Appends one attribute's captures to those collected so far, dropping non-members (null).</summary>
    public static EquatableArray<MemberCapture> Append(EquatableArray<MemberCapture> collected, ImmutableArray<MemberCapture?> captures)
    {
        var merged = new List<MemberCapture>(collected.Count + captures.Length);
        merged.AddRange(collected);
        foreach (MemberCapture? capture in captures)
        {
            if (capture is not null)
            {
                merged.Add(capture);
            }
        }

        return new EquatableArray<MemberCapture>(merged.ToArray());
    }

    /// <summary>
    /// Groups captures by type and keeps, per capability, the one valid member. A capability marked on two members, or
    /// on an invalid member, is left out (the analyzer reports it), so the rest of the type still generates.
    /// </summary>
    public static IEnumerable<NodeTypeModel> Group(EquatableArray<MemberCapture> captures, CancellationToken cancellationToken)
    {
        var order = new List<string>();
        var byType = new Dictionary<string, List<MemberCapture>>();
        foreach (MemberCapture capture in captures)
        {
            if (!byType.TryGetValue(capture.Type.FullyQualifiedName, out List<MemberCapture>? list))
            {
                list = [];
                byType.Add(capture.Type.FullyQualifiedName, list);
                order.Add(capture.Type.FullyQualifiedName);
            }

            list.Add(capture);
        }

        // Hint names compare case-insensitively and "A.B" can be a namespace or a nesting: make each one unique.
        var hintNames = new HashSet<string>(System.StringComparer.OrdinalIgnoreCase);
        foreach (string typeName in order)
        {
            cancellationToken.ThrowIfCancellationRequested();
            List<MemberCapture> members = byType[typeName];
            TypeModel type = members[0].Type;
            if (!type.CanGenerate)
            {
                continue;
            }

            var capabilities = new List<CapabilityModel>(CapabilityTable.All.Length);
            foreach (CapabilityInfo info in CapabilityTable.All)
            {
                Capability capability = info.Kind;
                MemberCapture? chosen = null;
                bool usable = true;
                foreach (MemberCapture member in members)
                {
                    if (member.Capability != capability)
                    {
                        continue;
                    }

                    // A partial property shows up once per part: the same name is the same member.
                    usable &= member.IsValid && (chosen is null || chosen.MemberName == member.MemberName);
                    chosen ??= member;
                }

                if (chosen is not null && usable)
                {
                    capabilities.Add(new CapabilityModel(capability, chosen.MemberName, chosen.MemberTypeName, chosen.Conversion));
                }
            }

            if (capabilities.Count > 0)
            {
                string hintName = type.HintName;
                for (int suffix = 2; !hintNames.Add(hintName); suffix++)
                {
                    hintName = type.HintName.Substring(0, type.HintName.Length - ".g.cs".Length) + "_" + suffix.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".g.cs";
                }

                yield return new NodeTypeModel(type with { HintName = hintName }, new EquatableArray<CapabilityModel>(capabilities.ToArray()));
            }
        }
    }

    private static TypeModel CaptureType(INamedTypeSymbol type)
    {
        var chain = new List<TypeDeclarationModel>();
        var hint = new StringBuilder();
        for (INamedTypeSymbol? current = type; current is not null; current = current.ContainingType)
        {
            chain.Insert(0, new TypeDeclarationModel(Keyword(current), NameWithTypeParameters(current)));
        }

        string ns = type.ContainingNamespace is { IsGlobalNamespace: false } containing ? containing.ToDisplayString() : string.Empty;
        if (ns.Length > 0)
        {
            hint.Append(ns).Append('.');
        }

        var names = new List<string>();
        for (INamedTypeSymbol? current = type; current is not null; current = current.ContainingType)
        {
            names.Insert(0, current.Arity > 0 ? current.Name + "_" + current.Arity.ToString(System.Globalization.CultureInfo.InvariantCulture) : current.Name);
        }

        hint.Append(string.Join(".", names));
        var safeHint = new StringBuilder(hint.Length + 12);
        foreach (char c in hint.ToString())
        {
            safeHint.Append(c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' ? c : '_');
        }

        safeHint.Append(".Loadwise.g.cs");

        var implemented = new List<string>();
        foreach (INamedTypeSymbol candidate in type.AllInterfaces)
        {
            if (candidate.ContainingNamespace is { Name: "Loadwise", ContainingNamespace.IsGlobalNamespace: true }
                && CapabilityTable.IsCapabilityInterface(candidate.Name))
            {
                implemented.Add(candidate.ToDisplayString(TypeNameFormat));
            }
        }

        return new TypeModel(
            ns,
            new EquatableArray<TypeDeclarationModel>(chain.ToArray()),
            type.ToDisplayString(TypeNameFormat),
            type.Name,
            safeHint.ToString(),
            NodeRules.CheckType(type) is null,
            new EquatableArray<string>(implemented.ToArray()));
    }

    private static string Keyword(INamedTypeSymbol type) => type.TypeKind switch
    {
        TypeKind.Struct when type.IsRecord => "record struct",
        TypeKind.Struct => "struct",
        TypeKind.Interface => "interface",
        _ when type.IsRecord => "record",
        _ => "class",
    };

    private static string NameWithTypeParameters(INamedTypeSymbol type)
    {
        if (type.TypeParameters.IsEmpty)
        {
            return Escape(type.Name);
        }

        var builder = new StringBuilder(Escape(type.Name)).Append('<');
        for (int i = 0; i < type.TypeParameters.Length; i++)
        {
            if (i > 0)
            {
                builder.Append(", ");
            }

            builder.Append(Escape(type.TypeParameters[i].Name));
        }

        return builder.Append('>').ToString();
    }

    private static string Escape(string identifier) =>
        SyntaxFacts.GetKeywordKind(identifier) != SyntaxKind.None ? "@" + identifier : identifier;
}
