"""GDPR procedures across services: ``gdpr_export`` and ``gdpr_erasure`` (docs/workflows.md)."""
