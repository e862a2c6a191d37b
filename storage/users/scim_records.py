"""What SCIM keeps of a tenant's members and roles beyond the platform's fields
(``users.scim_users``, ``users.scim_groups``): ``externalId``s (unique in the tenant) and a
member's other SCIM attributes. The transaction is the caller's, bound to the tenant (RLS)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from storage.repository import TenantScopedRepository
from storage.users.models import ScimGroupRecord, ScimUserRecord


class ExternalIdTakenError(ValueError):
    """Another member (or Group) of the tenant has this ``externalId`` (the unique index
    decided, e.g. between two concurrent writes)."""


class ScimUserRecords(TenantScopedRepository[ScimUserRecord]):
    model = ScimUserRecord

    async def of_user(self, user_id: uuid.UUID) -> ScimUserRecord | None:
        return await self.session.scalar(
            self.base_statement().where(ScimUserRecord.user_id == user_id)
        )

    async def holder_of(self, external_id: str) -> uuid.UUID | None:
        """The member whose ``externalId`` this is in the tenant (compared exactly: RFC 7643
        2.4 makes it case-exact)."""
        return await self.session.scalar(
            select(ScimUserRecord.user_id).where(
                ScimUserRecord.tenant_id == self.tenant_id,
                ScimUserRecord.external_id == external_id,
            )
        )

    async def save(
        self, user_id: uuid.UUID, external_id: str | None, attributes: dict[str, Any]
    ) -> None:
        """The member's record as given (an upsert: one row per member)."""
        values = {"external_id": external_id, "attributes": attributes}
        try:
            async with self.session.begin_nested():
                await self.session.execute(
                    insert(ScimUserRecord)
                    .values(tenant_id=self.tenant_id, user_id=user_id, **values)
                    .on_conflict_do_update(
                        index_elements=[ScimUserRecord.tenant_id, ScimUserRecord.user_id],
                        set_={**values, "updated_at": func.now()},
                    )
                )
        except IntegrityError:
            raise ExternalIdTakenError(external_id) from None

    async def remove(self, user_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(ScimUserRecord).where(
                ScimUserRecord.tenant_id == self.tenant_id, ScimUserRecord.user_id == user_id
            )
        )


class ScimGroupRecords(TenantScopedRepository[ScimGroupRecord]):
    model = ScimGroupRecord

    async def all(self) -> list[ScimGroupRecord]:
        return list(
            await self.session.scalars(self.base_statement().order_by(ScimGroupRecord.role))
        )

    async def holder_of(self, external_id: str) -> str | None:
        return await self.session.scalar(
            select(ScimGroupRecord.role).where(
                ScimGroupRecord.tenant_id == self.tenant_id,
                ScimGroupRecord.external_id == external_id,
            )
        )

    async def save(self, role: str, external_id: str | None) -> None:
        try:
            async with self.session.begin_nested():
                await self.session.execute(
                    insert(ScimGroupRecord)
                    .values(tenant_id=self.tenant_id, role=role, external_id=external_id)
                    .on_conflict_do_update(
                        index_elements=[ScimGroupRecord.tenant_id, ScimGroupRecord.role],
                        set_={"external_id": external_id, "updated_at": func.now()},
                    )
                )
        except IntegrityError:
            raise ExternalIdTakenError(external_id) from None

    async def remove(self, role: str) -> None:
        await self.session.execute(
            delete(ScimGroupRecord).where(
                ScimGroupRecord.tenant_id == self.tenant_id, ScimGroupRecord.role == role
            )
        )
