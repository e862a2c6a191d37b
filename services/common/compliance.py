"""What every service's GDPR activities share (docs/workflows.md, "GDPR procedures"): who may
run them, their input checked, an export part written to the blob store, and the pseudonym
that names an erased person in receipts and audit entries."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.common.sealing import sealer_for
from services.common.security_context import (
    ActorKind,
    SecurityContext,
    denied,
    require_context,
    require_flow,
)
from services.common.settings import Settings
from storage.blobs import BlobStore
from workflows.common.compliance import export_part_key
from workflows.common.errors import business_error
from workflows.compliance.contracts import GDPR_ERASURE, GDPR_EXPORT

INVALID_INPUT = "ComplianceInvalidInput"
_REQUEST_ID = re.compile(r"^[a-f0-9]{8,64}$")


def parse_id(raw: str, what: str = "user id") -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except (ValueError, TypeError, AttributeError):
        raise business_error(INVALID_INPUT, f"invalid {what}") from None


def checked_request_id(raw: str) -> str:
    """Export and erasure ids are lower-case hex (they name blob keys and workflow ids)."""
    if not isinstance(raw, str) or not _REQUEST_ID.match(raw):
        raise business_error(INVALID_INPUT, "invalid request id")
    return raw


def require_subject_step(user_id: uuid.UUID) -> SecurityContext:
    """A step of ``gdpr_export`` (for the person themself, or the platform) or of
    ``gdpr_erasure`` (started as the platform only)."""
    context = require_context()
    require_flow(context, GDPR_EXPORT, GDPR_ERASURE)
    if not context.acts_for(str(user_id)):
        raise denied("a GDPR request acts for its own subject only")
    return context


def require_erasure_step() -> SecurityContext:
    """A step of ``gdpr_erasure``, which only the platform starts (the route checked the
    person)."""
    context = require_context()
    require_flow(context, GDPR_ERASURE)
    if context.actor != ActorKind.system:
        raise denied("only the platform erases a person")
    return context


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, default=str, ensure_ascii=False, indent=2).encode()


def as_json(value: Any) -> Any:
    """A row read as JSON (the driver may hand jsonb over as text)."""
    return json.loads(value) if isinstance(value, str) else value


async def write_part(
    blobs: BlobStore, export_id: str, service: str, document: dict[str, Any]
) -> str:
    """The service's JSON part of an export; serialised off the event loop."""
    key = export_part_key(export_id, service)
    await blobs.put(key, await asyncio.to_thread(_dumps, document))
    return key


def _pseudonym_key(settings: Settings) -> bytes:
    keys = sealer_for(settings).keys
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"adx-compliance-subject:v1"
    ).derive(keys.keys[keys.active])


def subject_ref(settings: Settings, user_id: uuid.UUID) -> str:
    """The person's pseudonym: HMAC-SHA256 of their id under a key derived from the active seal
    key (stable while that key is active; no personal data, not reversible without the key)."""
    mac = hmac.new(_pseudonym_key(settings), str(user_id).encode(), hashlib.sha256)
    return mac.hexdigest()[:40]
