"""Read-only views of a process tree: /proc, py-spy -> Snapshot."""
