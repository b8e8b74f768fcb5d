namespace IoTHub.Fuzz;

/// <summary>A harness saw something that breaks a rule it checks (not a crash of the code under test, but as bad): the fuzzer counts it as a crash.</summary>
public sealed class FuzzFindingException(string message) : Exception(message);
