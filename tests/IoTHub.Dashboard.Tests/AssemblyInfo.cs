// Chromium, the host and the MQTT client processes share two cores: classes run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
