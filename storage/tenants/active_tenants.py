"""The tenant each user last switched into (``tenants.active_tenants``, written by
``tenant_switching``). Run in a transaction whose acting user (``adx.user_id``) is that user:
row-level security shows them their own row only; the membership check needs the transaction's
tenant to be the one recorded."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from storage.repository import Repository
from storage.tenants.models import ActiveTenant, Membership, MembershipStatus


class ActiveTenantRepository(Repository[ActiveTenant]):
    model = ActiveTenant

    async def current(self, user_id: uuid.UUID) -> ActiveTenant | None:
        return await self.session.get(ActiveTenant, user_id, populate_existing=True)

    async def is_active_member(self, user_id: uuid.UUID, tenant_id: uuid.UUID) -> bool:
        found = await self.session.scalar(
            select(Membership.id).where(
                Membership.tenant_id == tenant_id,
                Membership.user_id == user_id,
                Membership.status == MembershipStatus.ACTIVE.value,
            )
        )
        return found is not None

    async def record(
        self,
        user_id: uuid.UUID,
        tenant_id: uuid.UUID,
        *,
        previous: uuid.UUID | None,
        switched_at: datetime,
        idempotency_key: str,
    ) -> bool:
        """Upsert; an older switch retried late never overwrites a newer one (``switched_at``).
        False when a newer switch was recorded already."""
        statement = insert(ActiveTenant).values(
            user_id=user_id,
            tenant_id=tenant_id,
            previous_tenant_id=previous,
            switched_at=switched_at,
            idempotency_key=idempotency_key,
        )
        written = await self.session.scalar(
            statement.on_conflict_do_update(
                index_elements=[ActiveTenant.user_id],
                set_={
                    "tenant_id": statement.excluded.tenant_id,
                    "previous_tenant_id": statement.excluded.previous_tenant_id,
                    "switched_at": statement.excluded.switched_at,
                    "idempotency_key": statement.excluded.idempotency_key,
                },
                where=ActiveTenant.switched_at <= statement.excluded.switched_at,
            ).returning(ActiveTenant.user_id)
        )
        return written is not None

    async def restore(self, user_id: uuid.UUID, *, written_by: str) -> bool:
        """Compensation: put back the tenant recorded before (or no row) if the row is still
        the one ``written_by`` wrote; a later switch's row stays."""
        row = await self.current(user_id)
        if row is None or row.idempotency_key != written_by:
            return False
        if row.previous_tenant_id is None:
            await self.session.execute(delete(ActiveTenant).where(ActiveTenant.user_id == user_id))
        else:
            row.tenant_id = row.previous_tenant_id
            row.previous_tenant_id = None
            row.idempotency_key = f"{written_by}:restored"
            await self.session.flush()
        return True
