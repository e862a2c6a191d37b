"""Answering an invitation by its token (``tokens``), for whoever holds the mail: the
transaction is opened under the tenant the token names, never the caller's token tenant (the
invitee is not a member yet), and the invitation is found by the digest of the secret there.
Declining is here; accepting creates a membership and reaches auth's claims, so it is the
membership workflow's (which finds the row the same way: ``storage.tenants.repository
.invitation_by_token``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.tenant.errors import tenant_error
from services.tenant.invitations.tokens import parse_token
from storage.db import Database, transaction
from storage.tenants.models import Invitation, InvitationStatus
from storage.tenants.repository import InvitationRepository, invitation_by_token
from workflows.tenant.contracts import TenantError

INVALID = "This invitation is invalid, has expired or was answered already."


def is_open(invitation: Invitation, now: datetime) -> bool:
    return invitation.status == InvitationStatus.PENDING.value and invitation.expires_at > now


async def decline(database: Database, raw_token: str, user_id: uuid.UUID | None) -> None:
    """Decline the invitation once; one 404 (``InvalidInvitation``) for unknown, tampered,
    spent, revoked and expired tokens. A pending invitation found expired is marked so."""
    token = parse_token(raw_token)
    if token is None:
        raise tenant_error(TenantError.INVALID_INVITATION, INVALID)
    now = datetime.now(UTC)
    declined = False
    async with transaction(database, token.tenant_id, user_id=user_id) as db:
        row = await invitation_by_token(db, token.digest)
        if row is not None and row.tenant_id == token.tenant_id:
            repository = InvitationRepository(db, token.tenant_id)
            if is_open(row, now):
                declined = await repository.close(row, InvitationStatus.DECLINED, now)
            elif row.status == InvitationStatus.PENDING.value:
                await repository.close(row, InvitationStatus.EXPIRED, now)
    if not declined:
        raise tenant_error(TenantError.INVALID_INVITATION, INVALID)
