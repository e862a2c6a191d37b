"""Inviting an address into a tenant: the one rule both the route (``POST
/tenants/{id}/invitations``) and the bulk ``invite`` step (``tenant.bulk_invite``) follow. The
role must exist and grant nothing the inviter lacks; a new pending invitation takes a seat; an
address with a pending invitation gets it again (new link, new expiry, the new role); the mail
goes out before the transaction commits, so a mail that cannot be sent leaves nothing
(``ServiceUnavailableError``, the caller's transaction rolled back)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.common.errors import ConflictError, ServiceUnavailableError
from services.common.logging import get_logger
from services.common.mailer import Mailer
from services.common.settings import Settings
from services.tenant.access import Access, check_assignable
from services.tenant.errors import tenant_error
from services.tenant.invitations.mails import invitation_mail
from services.tenant.invitations.tokens import new_token
from storage.db import DbSession
from storage.tenants.models import Invitation
from storage.tenants.repository import InvitationRepository, MembershipRepository
from workflows.tenant.contracts import TenantError

_log = get_logger(__name__)


async def check_seat(db: DbSession, access: Access, now: datetime) -> None:
    """A new pending invitation takes a seat: members plus open invitations < quota."""
    used = await MembershipRepository(db, access.tenant_id).count_active()
    used += await InvitationRepository(db, access.tenant_id).count_pending(now)
    if used >= access.tenant.seat_quota:
        raise tenant_error(
            TenantError.SEAT_QUOTA_EXCEEDED,
            f"all {access.tenant.seat_quota} seats of the {access.tenant.plan} plan are taken "
            "(members and open invitations)",
        )


async def send_invitation(
    settings: Settings, mailer: Mailer, access: Access, row: Invitation, raw: str
) -> None:
    message = invitation_mail(
        settings.public_url,
        row.email,
        access.tenant.name,
        row.role,
        raw,
        settings.tenant_invitation_days,
    )
    try:
        await mailer.send(message)
    except Exception as error:  # SMTP down, outbox unwritable: roll the invitation back
        _log.warning("invitation_mail_failed", error_type=type(error).__name__)
        raise ServiceUnavailableError("The invitation mail could not be sent; try again.") from None


async def invite_address(
    db: DbSession, access: Access, email: str, role: str, settings: Settings, mailer: Mailer
) -> tuple[Invitation, bool]:
    """The invitation of ``email`` with ``role`` by ``access``'s member, mailed; True when it
    is new (False: a pending one was issued again)."""
    await check_assignable(db, access, role)
    email = email.strip().lower()
    now = datetime.now(UTC)
    expires = now + timedelta(days=settings.tenant_invitation_days)
    token = new_token(access.tenant_id)
    repository = InvitationRepository(db, access.tenant_id)
    row = await repository.pending_for(email)
    created = row is None
    if row is None:
        await check_seat(db, access, now)
        row = await repository.create(
            email=email,
            role=role,
            inviter_id=access.user_id,
            token_hash=token.digest,
            expires_at=expires,
        )
        if row is None:  # a concurrent invite of the same address won
            raise ConflictError("this address was invited just now")
    else:
        if row.expires_at <= now:
            await check_seat(db, access, now)
        row = await repository.reissue(
            row, token_hash=token.digest, expires_at=expires, role=role, inviter_id=access.user_id
        )
    await send_invitation(settings, mailer, access, row, token.raw)
    return row, created
