"""Invitation tokens: what the mail carries and what the database keeps.

Format: ``<tenant id as 32 lower-case hex>.<secret>``, the secret ``secrets.token_urlsafe(32)``
(43 base64url characters, 256 bits). Only the SHA-256 hex digest of the **secret part** is
stored (``invitations.token_hash``, unique); the raw token exists in the mail alone. The tenant
part is not secret: it tells the accept and decline flows which tenant's rows to open
(``storage.db.transaction(database, tenant_id)``, RLS on that tenant), so finding an invitation
never scans across tenants, and a token whose tenant part was changed finds nothing (its digest
is not in that tenant).

A token is single-use (accepting, declining or revoking closes the row, and resending overwrites
the digest so the old link is dead) and expires after ``ADX_TENANT_INVITATION_DAYS``. Unknown,
spent, revoked, expired and tampered tokens all get one answer (``InvalidInvitation``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass

_TOKEN = re.compile(r"([0-9a-f]{32})\.([A-Za-z0-9_-]{20,160})")


@dataclass(frozen=True)
class InvitationToken:
    tenant_id: uuid.UUID
    secret: str

    @property
    def raw(self) -> str:
        """The token as mailed."""
        return f"{self.tenant_id.hex}.{self.secret}"

    @property
    def digest(self) -> str:
        """What is stored: SHA-256 hex of the secret part."""
        return hash_secret(self.secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token(tenant_id: uuid.UUID) -> InvitationToken:
    return InvitationToken(tenant_id, secrets.token_urlsafe(32))


def parse_token(raw: str) -> InvitationToken | None:
    """The token's parts, or None for anything that is not a token's shape."""
    match = _TOKEN.fullmatch(raw)
    if match is None:
        return None
    return InvitationToken(uuid.UUID(hex=match.group(1)), match.group(2))
