"""Helpers of the GDPR tests: the stack, a person with data in every service (account, profile,
preferences, directory entry, membership, a file and its blob), tokens for the workflow app,
and the erasure check: every ADX schema, the blob store, Redis and Temporal's visibility
searched for the person."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from storage.auth.claims import ClaimsRepository
from storage.auth.models import AuditEvent
from storage.db import transaction
from storage.files.models import FileRecord
from storage.tenants.repository import MembershipRepository
from storage.users.directory import DirectoryRepository
from storage.users.models import Profile
from storage.users.preferences import PreferencesRepository
from tests.auth.users import AuthUser, create_user
from tests.workflow.runs.runs_api import Caller, RunsApi, eventually
from workflows.tenant.tenant_provisioning import (
    TenantProvisioningInput,
    TenantProvisioningWorkflow,
    tenant_provisioning_workflow_id,
)

SCHEMAS = ("auth", "users", "tenants", "files")
FILE_BYTES = b"the person's own notes\n" * 100


@dataclass(frozen=True)
class ComplianceStack:
    api: RunsApi
    tenant: str
    workflow: str
    auth: Resources
    tenants: Resources
    users: Resources
    files: Resources


@dataclass(frozen=True)
class Person:
    account: AuthUser
    tenant_id: uuid.UUID
    file_id: uuid.UUID
    blob_key: str

    @property
    def id(self) -> uuid.UUID:
        return self.account.id

    @property
    def caller(self) -> Caller:
        return Caller(self.account.id, self.tenant_id)


async def provisioned(temporal: Client, stack: ComplianceStack, owner: uuid.UUID) -> uuid.UUID:
    slug = f"t-{uuid.uuid4().hex[:10]}"
    with acting_as(SecurityContext.for_user(str(owner))):
        handle = await temporal.start_workflow(
            TenantProvisioningWorkflow.run,
            TenantProvisioningInput(slug=slug, name=f"Tenant {slug}", owner_id=str(owner)),
            id=tenant_provisioning_workflow_id(slug),
            task_queue=stack.tenant,
        )
    return uuid.UUID(str((await handle.result()).tenant_id))


async def member_with_data(
    runtime: AuthRuntime, stack: ComplianceStack, tenant_id: uuid.UUID, role: str = "member"
) -> Person:
    """A person with an account and rows in every service, a member of ``tenant_id``."""
    account = await create_user(runtime)
    uid = account.id
    async with transaction(stack.tenants.database, tenant_id) as db:
        await MembershipRepository(db, tenant_id).add_member(uid, role)
    async with transaction(stack.auth.database) as db:
        await ClaimsRepository(db).put(uid, tenant_id, [role])
    await add_profile(stack, tenant_id, account)
    file_id = uuid.uuid4()
    blob_key = f"tenants/{tenant_id}/files/{file_id}/v1"
    info = await stack.files.blobs.put(blob_key, FILE_BYTES)
    async with transaction(stack.files.database, tenant_id) as db:
        db.add(
            FileRecord(
                id=file_id,
                tenant_id=tenant_id,
                name="notes.txt",
                folder="/",
                blob_key=blob_key,
                size=info.size,
                sha256=info.sha256,
                content_type="text/plain",
                owner_id=uid,
                status="ready",
            )
        )
    return Person(account, tenant_id, file_id, blob_key)


async def add_profile(stack: ComplianceStack, tenant_id: uuid.UUID, account: AuthUser) -> None:
    uid = account.id
    async with transaction(stack.users.database, tenant_id, user_id=uid) as db:
        db.add(
            Profile(
                id=uid,
                email=account.email,
                display_name="Ada Example",
                given_name="Ada",
                family_name="Example",
                idempotency_key=f"test:{uid}",
            )
        )
        await db.flush()
        await PreferencesRepository(db).put(uid, None, schema_version=1, values={"theme": "dark"})
        await db.execute(
            text(
                "INSERT INTO users.scim_users (tenant_id, user_id, external_id, attributes) "
                "VALUES (:t, :u, :x, CAST(:a AS jsonb))"
            ),
            {"t": tenant_id, "u": uid, "x": f"idp-{uid}", "a": '{"title": "Engineer"}'},
        )
        await DirectoryRepository(db, tenant_id).upsert(
            uid,
            role="member",
            status="active",
            joined_at=None,
            display_name="Ada Example",
            email=account.email,
            search_name="Ada Example",
        )


# --- the erasure check ------------------------------------------------------------------------


async def rows_naming(database_url: str, needles: list[str]) -> list[str]:
    """``schema.table.column`` of every text, uuid, json or array column of the ADX schemas
    holding any of ``needles`` (read as the database owner: no row-level security hides a row)."""
    url = make_url(database_url)
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        columns = await conn.fetch(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = ANY($1::text[]) AND (data_type IN ('text', 'character varying', "
            "'uuid', 'jsonb', 'json', 'ARRAY', 'character')) "
            "AND table_name IN (SELECT table_name FROM information_schema.tables t "
            "WHERE t.table_schema = columns.table_schema AND t.table_type = 'BASE TABLE')",
            list(SCHEMAS),
        )
        found = []
        for schema, table, column in columns:
            for needle in needles:
                hit = await conn.fetchval(
                    f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{column}"::text ILIKE $1',
                    f"%{needle}%",
                )
                if hit:
                    found.append(f"{schema}.{table}.{column}")
        return found
    finally:
        await conn.close()


def blobs_naming(root: Any, needles: list[str]) -> list[str]:
    """Blob keys of the local store under ``root`` containing any needle."""
    return [
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and any(n in str(p) for n in needles)
    ]


async def redis_keys_naming(resources: Resources, needle: str) -> list[str]:
    escaped = re.sub(r"([*?\[\]\\])", r"\\\1", needle)
    return [
        k.decode() if isinstance(k, bytes) else k
        async for k in resources.redis.scan_iter(match=f"*{escaped}*", count=1000)
    ]


async def runs_of(temporal: Client, user_id: uuid.UUID) -> list[str]:
    return [e.id async for e in temporal.list_workflows(f"AdxUserId = '{user_id}'")]


# --- an erasure through the workflow app -------------------------------------------------------


async def request_erasure(stack: ComplianceStack, person: Person) -> str:
    async with stack.api.client(person.caller) as client:
        requested = await client.post("/compliance/erasures", json={"confirm": True})
    assert requested.status_code == 202, requested.text
    return str(requested.json()["workflow_id"])


async def erasure_state(stack: ComplianceStack, person: Person, phase: str) -> dict[str, Any]:
    async def check() -> dict[str, Any]:
        async with stack.api.client(person.caller) as client:
            answer = await client.get("/compliance/erasures/current")
        assert answer.status_code == 200, answer.text
        assert answer.json()["phase"] == phase, answer.json()
        return dict(answer.json())

    return await eventually(check)


async def erasure_events(stack: ComplianceStack, erasure_id: str) -> list[str]:
    async with transaction(stack.auth.database) as db:
        rows = await db.scalars(
            select(AuditEvent)
            .where(AuditEvent.detail["request_id"].astext == erasure_id)
            .order_by(AuditEvent.at)
        )
        found = list(rows)
    assert all(e.user_id is None and "subject_ref" in e.detail for e in found)
    return [e.event for e in found]
