// The keep-alive and stuck-subscriber tests measure time on a 2-core machine: classes run one after
// another (each with its own host) so that they do not compete for the CPU inside this project.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
