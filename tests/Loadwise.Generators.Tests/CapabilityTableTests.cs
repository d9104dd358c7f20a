using System.Globalization;
using System.Reflection;
using Loadwise.Generators.Model;

namespace Loadwise.Generators.Tests;

/// <summary>The capability table has one row per capability, in order, and every name in it exists in Core as described.</summary>
public sealed class CapabilityTableTests
{
    private static readonly Assembly Core = typeof(NodeAttribute).Assembly;

    [Fact]
    public void There_is_one_row_per_capability_in_the_enum_order()
    {
        Assert.Equal(Enum.GetValues<Capability>(), CapabilityTable.All.Select(row => row.Kind));
        Assert.All(Enum.GetValues<Capability>(), capability => Assert.Equal(capability, CapabilityTable.Of(capability).Kind));
        Assert.Equal(CapabilityTable.All.Length, CapabilityTable.All.Select(row => row.TrackingName).Distinct().Count());
    }

    [Fact]
    public void Every_capability_row_names_Cores_attribute_interface_property_accessor_and_method()
    {
        Assert.All(CapabilityTable.All, row =>
        {
            Type? attribute = Core.GetType(row.AttributeMetadataName);
            Assert.True(attribute is not null && typeof(Attribute).IsAssignableFrom(attribute), row.AttributeMetadataName);
            Assert.Same(row, CapabilityTable.ByAttributeClassName(attribute!.Name));

            // A row without a fixed value type returns the member's own type, which is then the interfaces' last type argument.
            int valueArguments = row.ValueType is null ? 1 : 0;
            Type? capabilityInterface = Core.GetType("Loadwise." + row.Interface + (valueArguments == 1 ? "`1" : string.Empty));
            Assert.True(capabilityInterface is { IsInterface: true }, row.Interface);
            Assert.True(CapabilityTable.IsCapabilityInterface(row.Interface));
            PropertyInfo? property = capabilityInterface!.GetProperty(row.InterfaceProperty);
            Assert.True(property is not null, row.Interface + "." + row.InterfaceProperty);
            AssertValueType(row, capabilityInterface, property!.PropertyType);

            Type? accessor = Core.GetType("Loadwise." + row.AccessorInterface + "`" + (1 + valueArguments).ToString(CultureInfo.InvariantCulture));
            Assert.True(accessor is { IsInterface: true }, row.AccessorInterface);
            MethodInfo? method = accessor!.GetMethod(row.AccessorMethod, BindingFlags.Public | BindingFlags.Static);
            Assert.True(method is not null, row.AccessorInterface + "." + row.AccessorMethod);
            AssertValueType(row, accessor, method!.ReturnType);
        });
    }

    [Fact]
    public void Every_strategy_row_names_a_Core_strategy_with_its_type_arguments_and_parameter()
    {
        Assert.Equal(CapabilityTable.Strategies.Length, CapabilityTable.Strategies.Select(row => row.Name).Distinct().Count());
        Assert.All(CapabilityTable.Strategies, row =>
        {
            int arity = 1 + (row.KeyedBy is null ? 0 : 1) + (row.UsesAccessor ? 1 : 0);
            Type? strategy = Core.GetType("Loadwise." + row.Name + "`" + arity.ToString(CultureInfo.InvariantCulture));
            Assert.True(strategy is not null, $"{row.Name} with {arity} type arguments");
            Assert.Contains(strategy!.GetInterfaces(), i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(ISelectionStrategy<>));

            // The summary names a member only of a capability the strategy requires, and a key only comes from one.
            Assert.Equal(row.Describes is not null, row.Summary.Contains("{0}", StringComparison.Ordinal));
            Assert.True(row.Describes is not { } described || row.Requires.Contains(described), row.Name);
            Assert.True(row.KeyedBy is not { } key || row.Requires.Contains(key), row.Name);

            if (row.Parameter is { } parameter)
            {
                Assert.Contains(strategy.GetConstructors(), c => c.GetParameters() is [{ } only] && only.Name == parameter.Name);
                if (parameter.DefaultValue.StartsWith("{0}.", StringComparison.Ordinal))
                {
                    string constant = parameter.DefaultValue["{0}.".Length..];
                    Assert.True(strategy.GetMember(constant, BindingFlags.Public | BindingFlags.Static).Length == 1, row.Name + "." + constant);
                }
            }
            else
            {
                Assert.Contains(strategy.GetConstructors(), c => c.GetParameters().Length == 0);
            }
        });
    }

    [Fact]
    public void Each_wrong_type_diagnostic_is_distinct_and_names_its_attribute()
    {
        Assert.Equal(CapabilityTable.All.Length, CapabilityTable.All.Select(row => row.WrongType.Id).Distinct().Count());
        Assert.All(CapabilityTable.All, row =>
        {
            Assert.Contains(row.WrongType, DiagnosticDescriptors.All);
            Assert.StartsWith("[" + row.Attribute + "] ", row.WrongType.Title.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
            Assert.StartsWith("[" + row.Attribute + "] ", row.WrongType.MessageFormat.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        });
    }

    private static void AssertValueType(CapabilityInfo row, Type declaringType, Type actual)
    {
        if (row.ValueType is null)
        {
            Assert.True(actual.IsGenericParameter && actual == declaringType.GetGenericArguments()[^1], $"{declaringType.Name} returns {actual.Name}");
        }
        else
        {
            Assert.Equal(row.ValueType, actual == typeof(int) ? "int" : actual == typeof(double) ? "double" : actual.FullName);
        }
    }
}
