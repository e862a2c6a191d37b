"""The gateway's efficiency: DataLoaders, idempotent mutations, persisted queries, cost."""
