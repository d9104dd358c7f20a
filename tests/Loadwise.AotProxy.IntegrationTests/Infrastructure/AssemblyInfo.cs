// Real sockets, servers and processes, and heap and allocation measurements that need the process to themselves.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
