"""Invitations over HTTP. Direct (no workflow): inviting, resending, revoking and declining
write this service's own rows in one transaction and send one mail (a mail that cannot be sent
rolls the write back: 503). Accepting creates a membership and reaches auth's claims: that is
the membership workflow, not here. Token format and storage: ``tokens``.

``GET /invitations/mine`` is not offered: an access token carries no e-mail address, the tenant
service keeps none of its users' (auth does), and RLS on ``invitations`` has no policy by
address, so finding "my" invitations would be a cross-tenant scan by an unverified address.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from services.common.app import DatabaseDep, ResourcesDep
from services.common.errors import ConflictError, NotFoundError
from services.common.logging import get_logger
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.tenant_db import TenantDb
from services.tenant.access import Access, caller_id, check_assignable, require_permission
from services.tenant.invitations import answers
from services.tenant.invitations.inviting import check_seat, invite_address, send_invitation
from services.tenant.invitations.mails import MailerDep
from services.tenant.invitations.tokens import new_token
from services.tenant.schemas import (
    CreateInvitationRequest,
    InvitationOut,
    InvitationTokenRequest,
)
from storage.db import DbSession
from storage.tenants.models import Invitation, InvitationStatus
from storage.tenants.repository import InvitationRepository
from workflows.tenant.permissions import Permission

Responses = dict[int | str, dict[str, Any]]
router = APIRouter(tags=["invitations"])
_log = get_logger(__name__)

REFUSED: Responses = {
    403: problem_response(403, "A token for another tenant, or no members.invite permission"),
    404: problem_response(404, "No such tenant or invitation, or the caller is not a member"),
}
WRITE_REFUSED: Responses = {
    **REFUSED,
    409: problem_response(409, "Seat quota reached, invitation answered, or tenant inactive"),
    503: problem_response(503, "The mail could not be sent; nothing was changed"),
}


def invitation_out(row: Invitation, now: datetime) -> InvitationOut:
    status = row.status
    if status == InvitationStatus.PENDING.value and row.expires_at <= now:
        status = InvitationStatus.EXPIRED.value
    return InvitationOut(
        id=row.id,
        email=row.email,
        role=row.role,
        status=status,
        expires_at=row.expires_at,
        inviter_id=row.inviter_id,
        created_at=row.created_at,
    )


async def _send(
    resources: ResourcesDep, mailer: MailerDep, access: Access, row: Invitation, raw: str
) -> None:
    await send_invitation(resources.settings, mailer, access, row, raw)


@router.post("/tenants/{tenant_id}/invitations", status_code=201, responses=WRITE_REFUSED)
async def invite(
    tenant_id: uuid.UUID,
    body: CreateInvitationRequest,
    principal: PrincipalDep,
    db: TenantDb,
    resources: ResourcesDep,
    mailer: MailerDep,
    response: Response,
) -> InvitationOut:
    """Invite an address with a role (``members.invite``; the role must exist and grant nothing
    the inviter lacks; a seat must be free). An address with a pending invitation gets it
    again (new link, new expiry, the new role), answered 200 instead of 201."""
    access = await require_permission(db, principal, tenant_id, Permission.MEMBERS_INVITE)
    row, created = await invite_address(
        db, access, body.email, body.role, resources.settings, mailer
    )
    if not created:
        response.status_code = 200
    return invitation_out(row, datetime.now(UTC))


@router.get("/tenants/{tenant_id}/invitations", responses=REFUSED)
async def list_invitations(
    tenant_id: uuid.UUID,
    principal: PrincipalDep,
    db: TenantDb,
    status: Annotated[InvitationStatus | None, Query()] = None,
) -> list[InvitationOut]:
    """This tenant's invitations, newest first (``members.invite``: addresses are personal)."""
    await require_permission(db, principal, tenant_id, Permission.MEMBERS_INVITE, write=False)
    now = datetime.now(UTC)
    rows = await InvitationRepository(db, tenant_id).all()
    shown = [invitation_out(row, now) for row in rows]
    return [item for item in shown if status is None or item.status == status.value]


async def _pending(db: DbSession, tenant_id: uuid.UUID, invitation_id: uuid.UUID) -> Invitation:
    row = await InvitationRepository(db, tenant_id).get(invitation_id)
    if row is None:
        raise NotFoundError(f"invitation {invitation_id} not found")
    if row.status != InvitationStatus.PENDING.value:
        raise ConflictError(f"the invitation was {row.status} already")
    return row


@router.post("/tenants/{tenant_id}/invitations/{invitation_id}/resend", responses=WRITE_REFUSED)
async def resend_invitation(
    tenant_id: uuid.UUID,
    invitation_id: uuid.UUID,
    principal: PrincipalDep,
    db: TenantDb,
    resources: ResourcesDep,
    mailer: MailerDep,
) -> InvitationOut:
    """Mail a pending invitation again with a new link (the old one stops working) and a new
    expiry (``members.invite``)."""
    access = await require_permission(db, principal, tenant_id, Permission.MEMBERS_INVITE)
    row = await _pending(db, tenant_id, invitation_id)
    await check_assignable(db, access, row.role)
    now = datetime.now(UTC)
    if row.expires_at <= now:
        await check_seat(db, access, now)
    token = new_token(tenant_id)
    row = await InvitationRepository(db, tenant_id).reissue(
        row,
        token_hash=token.digest,
        expires_at=now + timedelta(days=resources.settings.tenant_invitation_days),
    )
    await _send(resources, mailer, access, row, token.raw)
    return invitation_out(row, now)


@router.delete(
    "/tenants/{tenant_id}/invitations/{invitation_id}", status_code=204, responses=WRITE_REFUSED
)
async def revoke_invitation(
    tenant_id: uuid.UUID, invitation_id: uuid.UUID, principal: PrincipalDep, db: TenantDb
) -> Response:
    """Revoke a pending invitation: its link stops working (``members.invite``)."""
    await require_permission(db, principal, tenant_id, Permission.MEMBERS_INVITE)
    row = await _pending(db, tenant_id, invitation_id)
    if not await InvitationRepository(db, tenant_id).close(
        row, InvitationStatus.REVOKED, datetime.now(UTC)
    ):
        raise ConflictError("the invitation was answered just now")
    return Response(status_code=204)


@router.post(
    "/invitations/decline",
    status_code=204,
    responses={404: problem_response(404, "Invalid, expired or answered invitation")},
)
async def decline_invitation(
    body: InvitationTokenRequest, principal: PrincipalDep, database: DatabaseDep
) -> Response:
    """Decline an invitation by the token of its mail (any signed-in caller holding it)."""
    await answers.decline(database, body.token, caller_id(principal))
    return Response(status_code=204)
