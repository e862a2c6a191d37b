"""Shared platform library used by every ADX CORE process (settings, logging, errors, Temporal, health)."""
