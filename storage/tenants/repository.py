"""Tenant and membership repositories."""

from __future__ import annotations

from sqlalchemy import select

from storage.repository import Repository, TenantScopedRepository
from storage.tenants.models import Membership, Tenant


class TenantRepository(Repository[Tenant]):
    model = Tenant

    async def get_by_slug(self, slug: str) -> Tenant | None:
        return await self.session.scalar(select(Tenant).where(Tenant.slug == slug))


class MembershipRepository(TenantScopedRepository[Membership]):
    model = Membership
