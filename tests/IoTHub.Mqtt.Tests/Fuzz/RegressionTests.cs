using System.Buffers;
using IoTHub.Mqtt.Tests.Support;

namespace IoTHub.Mqtt.Tests.Fuzz;

/// <summary>
/// Inputs from <see cref="MutationTests"/> (DESIGN.md §7: crashers become regression tests), each run
/// through the same <see cref="CodecOracle"/> as one segment and one byte per segment, with the decode
/// version they failed with. Add a crasher as an <c>InlineData(hex, version)</c> line with a comment
/// naming the seed, the iteration and what went wrong.
/// <para>
/// No mutated input has broken the contract yet (about 29 million iterations over five seeds); the
/// rows below are edge cases seen while writing the fuzzer, kept so they stay covered.
/// </para>
/// </summary>
public sealed class RegressionTests
{
    [Theory]
    // Remaining length in a non-minimal form (80 00 = 0): refused as malformed [MQTT-1.5.5-1].
    [InlineData("C08000", MqttProtocolVersion.V500)]
    [InlineData("C0808000", MqttProtocolVersion.V311)]
    // Remaining length running to a fifth byte.
    [InlineData("E0808080800000", MqttProtocolVersion.V500)]
    // PUBLISH topic holding a UTF-16 surrogate (ED A0 80) and CONNECT client id holding an overlong NUL (C0 80).
    [InlineData("30050003EDA080", MqttProtocolVersion.V311)]
    [InlineData("100E00044D5154540402003C0002C080", MqttProtocolVersion.V311)]
    // 5.0 PUBLISH with an empty topic and a Topic Alias, then a PINGREQ after it.
    [InlineData("3006000003230005C000", MqttProtocolVersion.V500)]
    // Nothing, and a lone header byte.
    [InlineData("", MqttProtocolVersion.V500)]
    [InlineData("30", MqttProtocolVersion.Unknown)]
    public void Decoder_contract_holds(string hex, MqttProtocolVersion version)
    {
        var bytes = Convert.FromHexString(hex);

        var single = CodecOracle.Real.Run(new ReadOnlySequence<byte>(bytes), version, int.MaxValue);
        var split = CodecOracle.Real.Run(Sequences.OneBytePerSegment(bytes), version, int.MaxValue);

        Assert.Equal(single, split);
    }
}
