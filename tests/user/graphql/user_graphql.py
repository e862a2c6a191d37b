"""Helpers of the user GraphQL tests: members seeded straight into the auth, tenant and user
tables (credentials and claims, the tenant and its memberships, profiles and the directory copy
the tenant flows would have written), then signed in through GraphQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from storage.db import transaction
from storage.users.directory import DirectoryRepository, name_text
from storage.users.repository import ProfileRepository
from tests.auth.users import AuthUser
from tests.tenant.graphql.tenant_graphql import login, new_user, seed_tenant

ME = """{ me {
  userId tenantId roles
  profile { id email displayName givenName familyName locale timeZone title phone status }
  preferences { scope schemaVersion values stored }
} }"""
UPDATE_PROFILE = """mutation($input: UpdateProfileInput!) {
  updateProfile(input: $input) { id displayName givenName timeZone locale phone title }
}"""
UPDATE_PREFERENCES = """mutation($input: JSON!, $tenantId: ID) {
  updatePreferences(input: $input, tenantId: $tenantId) { scope tenantId values stored }
}"""
USERS = """query($tenantId: ID!, $search: String, $first: Int!, $after: String) {
  users(tenantId: $tenantId, search: $search, first: $first, after: $after) {
    edges { cursor node { userId displayName email role status } }
    pageInfo { hasNextPage endCursor }
  }
}"""
USER = """query($id: ID!) { user(id: $id) { id email displayName timeZone status } }"""


@dataclass
class Team:
    tenant_id: uuid.UUID
    #: (user, role, display name), the owner first.
    members: list[tuple[AuthUser, str, str]]

    @property
    def owner(self) -> AuthUser:
        return self.members[0][0]


async def seed_team(
    auth: AuthRuntime,
    tenants: Resources,
    users: Resources,
    names: list[tuple[str, str]],
) -> Team:
    """A tenant whose members are ``names`` ((display name, role), the first the owner), each
    with a profile and a directory entry in the user service."""
    people = [(await new_user(auth), role, name) for name, role in names]
    async with transaction(users.database) as db:
        for user, _, name in people:
            await ProfileRepository(db).create(
                id_=user.id, email=user.email, display_name=name, idempotency_key=f"t:{user.id}"
            )
    tenant_id = await seed_tenant(auth, tenants, [(u, r) for u, r, _ in people])
    joined = datetime.now(UTC)
    async with transaction(users.database, tenant_id) as db:
        directory = DirectoryRepository(db, tenant_id)
        for index, (user, role, name) in enumerate(people):
            await directory.upsert(
                user.id,
                role=role,
                status="active",
                joined_at=joined + timedelta(seconds=index),
                display_name=name,
                email=user.email,
                search_name=name_text(name, None, None),
            )
    return Team(tenant_id, people)


async def token_of(url: str, user: AuthUser, tenant_id: uuid.UUID | None) -> str:
    return str((await login(url, user, tenant_id))["accessToken"])
