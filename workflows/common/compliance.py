"""Types every service's GDPR activities share (docs/workflows.md, "GDPR procedures"): one
export part (a JSON document in the blob store) and one erasure part (counts of what went),
per service. Ids only in ids; personal data travels in payloads (encrypted by the codec)."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Where an export's parts and archive live in the blob store (never under ``tenants/``).
EXPORT_PREFIX = "compliance/exports"


def export_part_key(export_id: str, service: str) -> str:
    return f"{EXPORT_PREFIX}/{export_id}/{service}.json"


def export_archive_key(export_id: str) -> str:
    return f"{EXPORT_PREFIX}/{export_id}/archive.zip"


@dataclass
class ExportPartInput:
    export_id: str
    user_id: str
    #: The tenants the person belongs to (from the tenant service), for tenant-scoped rows.
    tenant_ids: list[str] = field(default_factory=list)
    #: The person's address (auth's), for rows that name them by address only (invitations).
    email: str = ""


@dataclass
class ExportPartOutput:
    service: str
    #: The JSON document written (``export_part_key``).
    blob_key: str
    #: Rows (or items) per section: counts only.
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class ErasePartInput:
    erasure_id: str
    user_id: str
    #: The person's address (auth's), for rows that name them by address only.
    email: str = ""
    tenant_ids: list[str] = field(default_factory=list)


@dataclass
class ErasePartOutput:
    service: str
    #: What was deleted or anonymised, per table or store (counts only).
    deleted: dict[str, int] = field(default_factory=dict)
