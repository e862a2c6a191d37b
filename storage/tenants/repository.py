"""Tenant and membership repositories."""

from __future__ import annotations

from storage.repository import Repository, TenantScopedRepository
from storage.tenants.models import Membership, Tenant


class TenantRepository(Repository[Tenant]):
    model = Tenant


class MembershipRepository(TenantScopedRepository[Membership]):
    model = Membership
