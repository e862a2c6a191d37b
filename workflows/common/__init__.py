"""Building blocks shared by every workflow: progress reporting, task queues, retry policies."""
