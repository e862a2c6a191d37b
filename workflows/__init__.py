"""Temporal workflows and activity contracts (names + dataclasses), importable by any worker."""
