"""Chaos runs under the mixed load: a platform of its own (stack), faults (scenarios), verdicts."""
