"""Repositories of the ``tenants`` schema, one section per table: tenants, memberships, roles,
invitations, domains, membership change outcomes. All of the tenant service's SQL is here.

Each repository works inside the caller's transaction (``storage.db.transaction`` /
``TenantDb``), whose ``adx.tenant_id`` row-level security enforces a second time what the
tenant-scoped statements already say; none commits. Two reads reach beyond the transaction's
tenant, both through the own-rows policies of the migration (``adx.user_id``, the acting user):
:meth:`TenantRepository.of_user` (the tenants a user belongs to) and
:meth:`MembershipRepository.of_user_everywhere`.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, tuple_, update

from storage.db import DbSession, IntegrityError
from storage.repository import Repository, TenantScopedRepository
from storage.tenants.models import (
    Domain,
    DomainStatus,
    Invitation,
    InvitationStatus,
    Membership,
    MembershipChangeOutcome,
    MembershipStatus,
    Role,
    Tenant,
)

# --- tenants ------------------------------------------------------------------------------------


class TenantRepository(Repository[Tenant]):
    """The tenant rows (RLS on ``tenants.id``: the transaction's tenant, plus the tenants the
    acting user belongs to)."""

    model = Tenant

    async def by_slug(self, slug: str) -> Tenant | None:
        return await self.session.scalar(select(Tenant).where(Tenant.slug == slug))

    async def of_user(self, user_id: uuid.UUID, limit: int = 500) -> list[tuple[Tenant, str]]:
        """The tenants ``user_id`` belongs to with their role there, by name then id. Needs the
        transaction's acting user to be ``user_id`` (``TenantDb``): RLS shows no other."""
        rows = await self.session.execute(
            select(Tenant, Membership.role)
            .join(Membership, Membership.tenant_id == Tenant.id)
            .where(Membership.user_id == user_id)
            .order_by(Tenant.name, Tenant.id)
            .limit(limit)
        )
        return [(tenant, role) for tenant, role in rows]

    async def update(
        self, tenant: Tenant, *, name: str | None = None, settings: dict[str, Any] | None = None
    ) -> Tenant:
        if name is not None:
            tenant.name = name
        if settings is not None:
            tenant.settings = settings
        await self.session.flush()
        await self.session.refresh(tenant, ["updated_at"])
        return tenant


# --- memberships --------------------------------------------------------------------------------

MEMBER_PAGE_MAX = 100


@dataclass(frozen=True)
class MemberCursor:
    """Where a page of members ends: the keyset ``(joined_at, id)`` of its last row (a stable
    order: rows joining later land after it, none is skipped or repeated)."""

    joined_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = f"{self.joined_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> MemberCursor:
        """ValueError for anything this did not produce."""
        if len(text) > 200:
            raise ValueError("not a cursor")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            joined, _, id_ = raw.partition("|")
            when = datetime.fromisoformat(joined)
            if when.tzinfo is None:
                raise ValueError("not a cursor")
            return cls(when, uuid.UUID(id_))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ValueError("not a cursor") from None


class MembershipRepository(TenantScopedRepository[Membership]):
    model = Membership

    async def of_user(self, user_id: uuid.UUID) -> Membership | None:
        """``user_id``'s membership in this repository's tenant."""
        return await self.session.scalar(self.base_statement().where(Membership.user_id == user_id))

    async def page(
        self,
        *,
        first: int,
        after: MemberCursor | None = None,
        role: str | None = None,
        status: str | None = None,
    ) -> tuple[list[Membership], MemberCursor | None]:
        """Up to ``first`` members ordered by ``(joined_at, id)``, after the cursor, filtered by
        role and status; and the cursor of the next page (None on the last one)."""
        statement = select(Membership).where(Membership.tenant_id == self.tenant_id)
        if role is not None:
            statement = statement.where(Membership.role == role)
        if status is not None:
            statement = statement.where(Membership.status == status)
        if after is not None:
            statement = statement.where(
                tuple_(Membership.joined_at, Membership.id) > tuple_(after.joined_at, after.id)
            )
        first = max(1, min(first, MEMBER_PAGE_MAX))
        rows = list(
            await self.session.scalars(
                statement.order_by(Membership.joined_at, Membership.id).limit(first + 1)
            )
        )
        if len(rows) <= first:
            return rows, None
        last = rows[first - 1]
        return rows[:first], MemberCursor(last.joined_at, last.id)

    async def count(self, *, role: str | None = None, status: str | None = None) -> int:
        statement = (
            select(func.count())
            .select_from(Membership)
            .where(Membership.tenant_id == self.tenant_id)
        )
        if role is not None:
            statement = statement.where(Membership.role == role)
        if status is not None:
            statement = statement.where(Membership.status == status)
        return int(await self.session.scalar(statement) or 0)

    async def count_active(self) -> int:
        return await self.count(status=MembershipStatus.ACTIVE.value)

    async def add_member(
        self, user_id: uuid.UUID, role: str, status: str = MembershipStatus.ACTIVE.value
    ) -> Membership:
        return await self.add(Membership(user_id=user_id, role=role, status=status))

    async def set_role(self, membership: Membership, role: str) -> Membership:
        membership.role = role
        await self.session.flush()
        return membership

    async def remove(self, membership: Membership) -> None:
        await self.session.delete(membership)
        await self.session.flush()

    async def of_user_everywhere(self, user_id: uuid.UUID) -> list[Membership]:
        """``user_id``'s memberships in every tenant (the own-memberships policy; the acting user
        must be ``user_id``). Not scoped to this repository's tenant."""
        return list(
            await self.session.scalars(
                select(Membership)
                .where(Membership.user_id == user_id)
                .order_by(Membership.joined_at, Membership.id)
            )
        )


# --- roles --------------------------------------------------------------------------------------


class RoleRepository(TenantScopedRepository[Role]):
    """A tenant's custom roles (the built-in ones are ``workflows/tenant/permissions.py``)."""

    model = Role

    async def by_name(self, name: str) -> Role | None:
        return await self.session.scalar(self.base_statement().where(Role.name == name))

    async def all(self) -> list[Role]:
        return list(await self.session.scalars(self.base_statement().order_by(Role.name)))

    async def count(self) -> int:
        return int(
            await self.session.scalar(
                select(func.count()).select_from(Role).where(Role.tenant_id == self.tenant_id)
            )
            or 0
        )

    async def create(self, name: str, description: str, permissions: Sequence[str]) -> Role | None:
        """The new role, or None when the tenant has one of that name already (a concurrent
        create included: the unique constraint decides, inside a savepoint)."""
        try:
            async with self.session.begin_nested():
                return await self.add(
                    Role(name=name, description=description, permissions=sorted(permissions))
                )
        except IntegrityError:
            return None

    async def change(
        self, role: Role, *, description: str | None, permissions: Sequence[str] | None
    ) -> Role:
        if description is not None:
            role.description = description
        if permissions is not None:
            role.permissions = sorted(permissions)
        await self.session.flush()
        await self.session.refresh(role, ["updated_at"])
        return role

    async def in_use(self, name: str) -> bool:
        """Whether a member holds the role or a pending invitation offers it."""
        member = await self.session.scalar(
            select(Membership.id)
            .where(Membership.tenant_id == self.tenant_id, Membership.role == name)
            .limit(1)
        )
        if member is not None:
            return True
        invited = await self.session.scalar(
            select(Invitation.id)
            .where(
                Invitation.tenant_id == self.tenant_id,
                Invitation.role == name,
                Invitation.status == InvitationStatus.PENDING.value,
            )
            .limit(1)
        )
        auto_join = await self.session.scalar(
            select(Domain.id)
            .where(Domain.tenant_id == self.tenant_id, Domain.auto_join_role == name)
            .limit(1)
        )
        return invited is not None or auto_join is not None

    async def remove(self, role: Role) -> None:
        await self.session.execute(
            delete(Role).where(Role.tenant_id == self.tenant_id, Role.id == role.id)
        )


# --- invitations --------------------------------------------------------------------------------


class InvitationRepository(TenantScopedRepository[Invitation]):
    """A tenant's invitations. Tokens are stored only as their SHA-256 hex digest."""

    model = Invitation

    async def pending_for(self, email: str) -> Invitation | None:
        """The pending invitation of ``email`` (normalised) here, if any (at most one: a partial
        unique index)."""
        return await self.session.scalar(
            self.base_statement().where(
                Invitation.email == email, Invitation.status == InvitationStatus.PENDING.value
            )
        )

    async def all(self, *, status: str | None = None, limit: int = 500) -> list[Invitation]:
        statement = self.base_statement()
        if status is not None:
            statement = statement.where(Invitation.status == status)
        return list(
            await self.session.scalars(
                statement.order_by(Invitation.created_at.desc(), Invitation.id).limit(limit)
            )
        )

    async def count_pending(self, now: datetime) -> int:
        """Pending invitations not yet expired (each holds a seat until it is answered)."""
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(Invitation)
                .where(
                    Invitation.tenant_id == self.tenant_id,
                    Invitation.status == InvitationStatus.PENDING.value,
                    Invitation.expires_at > now,
                )
            )
            or 0
        )

    async def create(
        self,
        *,
        email: str,
        role: str,
        inviter_id: uuid.UUID,
        token_hash: str,
        expires_at: datetime,
    ) -> Invitation | None:
        """A new pending invitation, or None when one is pending for ``email`` already (a
        concurrent invite included: the partial unique index decides, inside a savepoint)."""
        row = Invitation(
            email=email,
            role=role,
            inviter_id=inviter_id,
            token_hash=token_hash,
            expires_at=expires_at,
        )
        try:
            async with self.session.begin_nested():
                await self.add(row)
        except IntegrityError:
            return None
        await self.session.refresh(row)
        return row

    async def reissue(
        self,
        invitation: Invitation,
        *,
        token_hash: str,
        expires_at: datetime,
        role: str | None = None,
        inviter_id: uuid.UUID | None = None,
    ) -> Invitation:
        """A new token (the old digest is overwritten, so the old link is dead) and expiry."""
        invitation.token_hash = token_hash
        invitation.expires_at = expires_at
        invitation.sent_count = invitation.sent_count + 1
        if role is not None:
            invitation.role = role
        if inviter_id is not None:
            invitation.inviter_id = inviter_id
        await self.session.flush()
        return invitation

    async def close(
        self,
        invitation: Invitation,
        status: InvitationStatus,
        now: datetime,
        *,
        accepted_by: uuid.UUID | None = None,
    ) -> bool:
        """Move a pending invitation to ``status`` (accepted, declined, revoked, expired) once:
        False when it was not pending any more (a concurrent answer won)."""
        result = await self.session.execute(
            update(Invitation)
            .where(
                Invitation.tenant_id == self.tenant_id,
                Invitation.id == invitation.id,
                Invitation.status == InvitationStatus.PENDING.value,
            )
            .values(status=status.value, responded_at=now, accepted_by=accepted_by)
            .execution_options(synchronize_session=False)
        )
        await self.session.refresh(invitation)
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def invitation_by_token(db: DbSession, token_hash: str) -> Invitation | None:
    """The invitation whose token has this SHA-256 hex digest, in the transaction's tenant
    (RLS): the caller opens the transaction under the tenant named by the token's first part
    (``services/tenant/invitations/tokens.py``), so no lookup ever scans across tenants. Any
    status: the caller checks it is pending and unexpired."""
    return await db.scalar(select(Invitation).where(Invitation.token_hash == token_hash))


# --- domains ------------------------------------------------------------------------------------


class DomainRepository(TenantScopedRepository[Domain]):
    """A tenant's e-mail domains; a verified domain belongs to one tenant (partial unique index
    across tenants, enforced by PostgreSQL whatever RLS shows)."""

    model = Domain

    async def by_name(self, domain: str) -> Domain | None:
        return await self.session.scalar(self.base_statement().where(Domain.domain == domain))

    async def all(self) -> list[Domain]:
        return list(await self.session.scalars(self.base_statement().order_by(Domain.domain)))

    async def count(self) -> int:
        return int(
            await self.session.scalar(
                select(func.count()).select_from(Domain).where(Domain.tenant_id == self.tenant_id)
            )
            or 0
        )

    async def create(self, domain: str, txt_token: str) -> Domain | None:
        """The new pending claim, or None when this tenant has claimed the domain already."""
        row = Domain(domain=domain, txt_token=txt_token, status=DomainStatus.PENDING.value)
        try:
            async with self.session.begin_nested():
                await self.add(row)
        except IntegrityError:
            return None
        await self.session.refresh(row)
        return row

    async def mark_verified(self, row: Domain, now: datetime) -> bool:
        """Verified now; False (nothing changed) when another tenant verified it first."""
        try:
            async with self.session.begin_nested():
                row.status = DomainStatus.VERIFIED.value
                row.verified_at = now
                await self.session.flush()
        except IntegrityError:
            await self.session.refresh(row)
            return False
        return True

    async def set_auto_join(self, row: Domain, role: str | None) -> Domain:
        row.auto_join_role = role
        await self.session.flush()
        return row

    async def remove(self, row: Domain) -> None:
        await self.session.execute(
            delete(Domain).where(Domain.tenant_id == self.tenant_id, Domain.id == row.id)
        )


# --- membership change outcomes -----------------------------------------------------------------


class MembershipChangeOutcomeRepository(TenantScopedRepository[MembershipChangeOutcome]):
    """What each applied membership change answered, by its idempotency key."""

    model = MembershipChangeOutcome

    async def of_key(self, idempotency_key: str) -> dict[str, Any] | None:
        return await self.session.scalar(
            select(MembershipChangeOutcome.outcome).where(
                MembershipChangeOutcome.tenant_id == self.tenant_id,
                MembershipChangeOutcome.idempotency_key == idempotency_key,
            )
        )

    async def record(self, idempotency_key: str, outcome: dict[str, Any]) -> None:
        """In the change's transaction: a concurrent attempt of the same key fails on the
        primary key at commit, and its retry then reads this outcome."""
        await self.add(MembershipChangeOutcome(idempotency_key=idempotency_key, outcome=outcome))
