namespace Loadwise.Generators.Model;

// Pipeline models: immutable records of strings, enums, bools and EquatableArray, never ISymbol, SyntaxNode,
// Location or Compilation, so that each step compares by value and unrelated edits leave the output cached.

/// <summary>One type declaration in the nesting chain of a node type, outermost first.</summary>
/// <param name="Keyword">The declaration keyword: class, struct, record, record struct or interface.</param>
/// <param name="NameWithTypeParameters">The name as declared, with type parameters, e.g. <c>Pool&lt;T&gt;</c>.</param>
internal sealed record TypeDeclarationModel(string Keyword, string NameWithTypeParameters);

/// <summary>A type that holds at least one capability attribute.</summary>
/// <param name="Namespace">The namespace, or empty for the global namespace.</param>
/// <param name="Declarations">The nesting chain, outermost first; the last entry is the node type itself.</param>
/// <param name="FullyQualifiedName">The <c>global::</c>-qualified name, with type parameters.</param>
/// <param name="DisplayName">The short name used in comments.</param>
/// <param name="HintName">The unique hint name of the generated file.</param>
/// <param name="CanGenerate">False when the shape is unsupported or a declaration is not partial (an analyzer reports why).</param>
/// <param name="ImplementedInterfaces">Capability interfaces the user already implements (fully qualified); not emitted again.</param>
internal sealed record TypeModel(
    string Namespace,
    EquatableArray<TypeDeclarationModel> Declarations,
    string FullyQualifiedName,
    string DisplayName,
    string HintName,
    bool CanGenerate,
    EquatableArray<string> ImplementedInterfaces);

/// <summary>One member that carries one capability attribute.</summary>
/// <param name="Type">The containing node type.</param>
/// <param name="Capability">Which attribute marked it.</param>
/// <param name="MemberName">The member name, escaped with @ where it is a keyword.</param>
/// <param name="MemberTypeName">The member's type, fully qualified.</param>
/// <param name="Conversion">How the accessor converts the value.</param>
/// <param name="IsValid">False when an analyzer reports a problem; the capability is then not emitted.</param>
internal sealed record MemberCapture(
    TypeModel Type,
    Capability Capability,
    string MemberName,
    string MemberTypeName,
    ValueConversion Conversion,
    bool IsValid);

/// <summary>A capability the emitter implements: the member it reads and how.</summary>
/// <param name="Capability">The capability.</param>
/// <param name="MemberName">The escaped member name.</param>
/// <param name="MemberTypeName">The member's type, fully qualified.</param>
/// <param name="Conversion">How the accessor converts the value.</param>
internal sealed record CapabilityModel(Capability Capability, string MemberName, string MemberTypeName, ValueConversion Conversion);

/// <summary>Everything the emitter needs for one node type.</summary>
/// <param name="Type">The node type.</param>
/// <param name="Capabilities">The valid, unique capabilities, in <see cref="Capability"/> order.</param>
internal sealed record NodeTypeModel(TypeModel Type, EquatableArray<CapabilityModel> Capabilities);
