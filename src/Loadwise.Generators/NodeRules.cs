using System.Linq;
using Loadwise.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Loadwise.Generators;

/// <summary>A rule violation: the descriptor, where to report it, and the message arguments.</summary>
internal readonly struct RuleViolation
{
    public RuleViolation(DiagnosticDescriptor descriptor, Location? location, params object[] arguments)
    {
        Descriptor = descriptor;
        Location = location;
        Arguments = arguments;
    }

    public DiagnosticDescriptor Descriptor { get; }

    public Location? Location { get; }

    public object[] Arguments { get; }
}

/// <summary>The result of checking one capability member.</summary>
internal readonly struct MemberVerdict
{
    public MemberVerdict(bool isUsable, RuleViolation? violation, ITypeSymbol? valueType, ValueConversion conversion)
    {
        IsUsable = isUsable;
        Violation = violation;
        ValueType = valueType;
        Conversion = conversion;
    }

    /// <summary>Gets whether the generator can emit the member. Half-typed code is neither usable nor reported.</summary>
    public bool IsUsable { get; }

    /// <summary>Gets the problem to report, or null.</summary>
    public RuleViolation? Violation { get; }

    /// <summary>Gets the member's type (null for an unreadable member).</summary>
    public ITypeSymbol? ValueType { get; }

    /// <summary>Gets how the accessor converts the value.</summary>
    public ValueConversion Conversion { get; }
}

/// <summary>
/// The rules shared by the generator (which emits only what passes) and the analyzer (which reports what fails), so
/// that the two can never disagree about what is valid.
/// </summary>
internal static class NodeRules
{
    /// <summary>The capability an attribute class marks, or null for any other attribute.</summary>
    public static CapabilityInfo? CapabilityOf(INamedTypeSymbol? attributeClass) =>
        attributeClass is { ContainingNamespace: { Name: "Loadwise", ContainingNamespace.IsGlobalNamespace: true } }
            ? CapabilityTable.ByAttributeClassName(attributeClass.Name)
            : null;

    /// <summary>Checks the node type's shape and partial modifiers; null when the generator can extend it.</summary>
    public static RuleViolation? CheckType(INamedTypeSymbol type)
    {
        Location? location = IdentifierLocation(type);
        if (type.TypeKind == TypeKind.Interface)
        {
            return new RuleViolation(DiagnosticDescriptors.UnsupportedTypeShape, location, type.Name, "an interface", "put the attributes on the struct or class that implements it");
        }

        if (type.IsRefLikeType)
        {
            return new RuleViolation(DiagnosticDescriptors.UnsupportedTypeShape, location, type.Name, "a ref struct", "strategies select from ReadOnlySpan<TNode>, which cannot hold a ref struct: remove 'ref'");
        }

        if (type.IsFileLocal)
        {
            return new RuleViolation(DiagnosticDescriptors.UnsupportedTypeShape, location, type.Name, "a file-local type", "the generated part lives in another file: remove the 'file' modifier");
        }

        if (type.TypeKind is not (TypeKind.Struct or TypeKind.Class))
        {
            return new RuleViolation(DiagnosticDescriptors.UnsupportedTypeShape, location, type.Name, "not a class or struct", "use a class, struct or record");
        }

        if (!IsPartial(type))
        {
            return new RuleViolation(DiagnosticDescriptors.TypeNotPartial, location, type.Name);
        }

        for (INamedTypeSymbol? outer = type.ContainingType; outer is not null; outer = outer.ContainingType)
        {
            if (!IsPartial(outer))
            {
                return new RuleViolation(DiagnosticDescriptors.ContainingTypeNotPartial, IdentifierLocation(outer), type.Name, outer.Name);
            }
        }

        foreach (string generated in new[] { KnownNames.AccessorTypeName, KnownNames.SelectorsTypeName })
        {
            if (type.Name == generated || type.GetMembers(generated).Any(static m => !IsGenerated(m)))
            {
                return new RuleViolation(DiagnosticDescriptors.GeneratedNameClash, location, type.Name, generated);
            }
        }

        return null;
    }

    /// <summary>Checks one member marked with a capability attribute.</summary>
    public static MemberVerdict CheckMember(ISymbol member, Capability capability, Location? attributeLocation, Compilation compilation)
    {
        CapabilityInfo info = CapabilityTable.Of(capability);
        string attribute = info.Attribute;
        if (member is IPropertySymbol && member.DeclaringSyntaxReferences.Any(static r => r.GetSyntax() is ParameterSyntax))
        {
            return Fail(new RuleViolation(DiagnosticDescriptors.PrimaryConstructorParameter, attributeLocation, member.Name, attribute), null);
        }

        if (member is IPropertySymbol { IsIndexer: true })
        {
            return Fail(new RuleViolation(DiagnosticDescriptors.MemberIndexer, attributeLocation, attribute), null);
        }

        if (member.IsStatic)
        {
            return Fail(new RuleViolation(DiagnosticDescriptors.MemberStatic, attributeLocation, member.Name, attribute), null);
        }

        ITypeSymbol valueType;
        switch (member)
        {
            case IPropertySymbol property:
                if (property.GetMethod is null)
                {
                    return Fail(new RuleViolation(DiagnosticDescriptors.MemberNotReadable, attributeLocation, member.Name, "it has no get accessor", attribute), null);
                }

                if (!property.ExplicitInterfaceImplementations.IsEmpty)
                {
                    return Fail(new RuleViolation(DiagnosticDescriptors.MemberNotReadable, attributeLocation, member.Name, "it is an explicit interface implementation", attribute), null);
                }

                valueType = property.Type;
                break;
            case IFieldSymbol field:
                valueType = field.Type;
                break;
            default:
                return Fail(null, null);
        }

        if (valueType.TypeKind == TypeKind.Error)
        {
            // Half-typed code: the compiler already reports the missing type; emit nothing, report nothing.
            return Fail(null, valueType);
        }

        if (!IsVisibleWherever(valueType, member.ContainingType, compilation))
        {
            return Fail(new RuleViolation(DiagnosticDescriptors.MemberTypeLessAccessible, attributeLocation, member.Name, Display(valueType), member.ContainingType.Name), valueType);
        }

        switch (info.Rule)
        {
            case ValueRule.Equatable:
                if (valueType.IsReferenceType && valueType.NullableAnnotation == NullableAnnotation.Annotated)
                {
                    return Fail(new RuleViolation(DiagnosticDescriptors.IdentityNullable, attributeLocation, member.Name, Display(valueType)), valueType);
                }

                return IsSelfEquatable(valueType)
                    ? Pass(valueType, ValueConversion.None)
                    : Fail(new RuleViolation(info.WrongType, attributeLocation, member.Name, Display(valueType)), valueType);
            case ValueRule.Integer:
                return IntegerConversion(valueType) is { } integer
                    ? Pass(valueType, integer)
                    : Fail(new RuleViolation(info.WrongType, attributeLocation, member.Name, Display(valueType)), valueType);
            default:
                return NumericConversion(valueType) is { } number
                    ? Pass(valueType, number)
                    : Fail(new RuleViolation(info.WrongType, attributeLocation, member.Name, Display(valueType)), valueType);
        }
    }

    /// <summary>True when any declaration of the type has the partial modifier.</summary>
    public static bool IsPartial(INamedTypeSymbol type)
    {
        foreach (SyntaxReference reference in type.DeclaringSyntaxReferences)
        {
            if (reference.GetSyntax() is TypeDeclarationSyntax declaration
                && declaration.Modifiers.Any(static m => m.Text == "partial"))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True for members the generator itself added (they carry [GeneratedCode("Loadwise.Generators", ...)]).</summary>
    public static bool IsGenerated(ISymbol member) =>
        member.GetAttributes().Any(static a =>
            a.AttributeClass is { Name: "GeneratedCodeAttribute" }
            && a.ConstructorArguments.Length > 0
            && a.ConstructorArguments[0].Value is string tool
            && tool == KnownNames.GeneratorName);

    private static MemberVerdict Fail(RuleViolation? violation, ITypeSymbol? valueType) => new(isUsable: false, violation, valueType, ValueConversion.None);

    private static MemberVerdict Pass(ITypeSymbol valueType, ValueConversion conversion) => new(isUsable: true, violation: null, valueType, conversion);

    private static string Display(ITypeSymbol type) => type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat.WithMiscellaneousOptions(
        SymbolDisplayMiscellaneousOptions.UseSpecialTypes | SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier));

    private static Location? IdentifierLocation(INamedTypeSymbol type)
    {
        foreach (SyntaxReference reference in type.DeclaringSyntaxReferences)
        {
            if (reference.GetSyntax() is BaseTypeDeclarationSyntax declaration)
            {
                return declaration.Identifier.GetLocation();
            }
        }

        return type.Locations.FirstOrDefault();
    }

    /// <summary>
    /// True when <paramref name="type"/> is visible everywhere the generated public accessor of <paramref name="node"/>
    /// is: a public type for a node type that is public all the way out, otherwise a type accessible from the node
    /// type's container. Anything less would make the generated <c>GetId</c> an inconsistent-accessibility error.
    /// </summary>
    private static bool IsVisibleWherever(ITypeSymbol type, INamedTypeSymbol node, Compilation compilation)
    {
        if (type is ITypeParameterSymbol)
        {
            return true;
        }

        if (IsPublicAllTheWay(node))
        {
            return IsPublicAllTheWay(type);
        }

        ISymbol within = (ISymbol?)node.ContainingType ?? compilation.Assembly;
        return compilation.IsSymbolAccessibleWithin(type, within);
    }

    private static bool IsPublicAllTheWay(ITypeSymbol type)
    {
        switch (type)
        {
            case ITypeParameterSymbol:
                return true;
            case IArrayTypeSymbol array:
                return IsPublicAllTheWay(array.ElementType);
            case IPointerTypeSymbol pointer:
                return IsPublicAllTheWay(pointer.PointedAtType);
            case INamedTypeSymbol named:
                for (INamedTypeSymbol? current = named; current is not null; current = current.ContainingType)
                {
                    if (current.DeclaredAccessibility != Accessibility.Public)
                    {
                        return false;
                    }
                }

                return named.TypeArguments.All(IsPublicAllTheWay);
            default:
                return true;
        }
    }

    private static bool IsSelfEquatable(ITypeSymbol type)
    {
        if (type is ITypeParameterSymbol parameter)
        {
            return parameter.ConstraintTypes.Any(c => IsEquatableOf(c, type));
        }

        return type.AllInterfaces.Any(i => IsEquatableOf(i, type));
    }

    private static bool IsEquatableOf(ITypeSymbol candidate, ITypeSymbol type) =>
        candidate is INamedTypeSymbol { Name: "IEquatable", Arity: 1, ContainingNamespace: { Name: "System", ContainingNamespace.IsGlobalNamespace: true } } equatable
        && SymbolEqualityComparer.Default.Equals(equatable.TypeArguments[0], type);

    private static ValueConversion? IntegerConversion(ITypeSymbol type)
    {
        switch (type.SpecialType)
        {
            case SpecialType.System_SByte:
            case SpecialType.System_Byte:
            case SpecialType.System_Int16:
            case SpecialType.System_UInt16:
            case SpecialType.System_Int32:
                return ValueConversion.None;
            case SpecialType.System_UInt32:
            case SpecialType.System_Int64:
            case SpecialType.System_UInt64:
            case SpecialType.System_IntPtr:
            case SpecialType.System_UIntPtr:
                return ValueConversion.SaturateToInt32;
        }

        return IsSystemType(type, "Int128") || IsSystemType(type, "UInt128") ? ValueConversion.SaturateToInt32 : null;
    }

    private static ValueConversion? NumericConversion(ITypeSymbol type)
    {
        if (type.SpecialType == SpecialType.System_Double)
        {
            return ValueConversion.None;
        }

        bool numeric = type.SpecialType is SpecialType.System_Single or SpecialType.System_Decimal
            || IntegerConversion(type) is not null
            || IsSystemType(type, "Half");
        return numeric ? ValueConversion.ToDouble : null;
    }

    private static bool IsSystemType(ITypeSymbol type, string name) =>
        type is INamedTypeSymbol { Arity: 0 } named
        && named.Name == name
        && named.ContainingNamespace is { Name: "System", ContainingNamespace.IsGlobalNamespace: true };
}
