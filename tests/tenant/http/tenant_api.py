"""Helpers of the tenant HTTP tests: tenants and members written straight through the
repositories (provisioning is a workflow of its own), callers with access tokens minted by the
auth runtime's issuer (its JWKS published into Redis, where the tenant service reads it), a
recording mailer, and a real DNS server (dnslib) answering the TXT records a test sets."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from dnslib import QTYPE, RR, TXT, DNSRecord
from dnslib.server import BaseResolver, DNSServer
from fastapi import FastAPI

from services.auth.runtime import AuthRuntime
from services.common.mailer import EmailMessage
from services.common.resources import Resources
from services.common.tokens import publish_jwks
from storage.db import Database, transaction
from storage.tenants.models import Role, Tenant, TenantStatus
from storage.tenants.repository import MembershipRepository, RoleRepository, TenantRepository
from tests.in_process import in_process_client
from workflows.tenant.plans import GIB


@dataclass
class RecordingMailer:
    sent: list[EmailMessage] = field(default_factory=list)
    fail: bool = False

    async def send(self, message: EmailMessage) -> None:
        if self.fail:
            raise ConnectionError("smtp down")
        self.sent.append(message)

    def last_token(self, to: str) -> str:
        for message in reversed(self.sent):
            if message.to == to:
                match = re.search(r"token=([0-9a-f]{32}\.[A-Za-z0-9_-]+)", message.text)
                assert match is not None, message.text
                return match.group(1)
        raise AssertionError(f"no mail to {to}")


@dataclass
class Seeded:
    id: uuid.UUID
    slug: str
    owner: uuid.UUID
    members: dict[str, uuid.UUID]


async def seed_tenant(
    database: Database,
    *,
    roles: dict[str, str] | None = None,
    custom_roles: dict[str, list[str]] | None = None,
    seat_quota: int = 5,
    status: str = TenantStatus.ACTIVE.value,
) -> Seeded:
    """An active tenant with an owner and ``roles`` (label -> role) members; custom roles
    (name -> permissions) are created first."""
    tenant_id = uuid.uuid4()
    owner = uuid.uuid4()
    members = {label: uuid.uuid4() for label in roles or {}}
    async with transaction(database, tenant_id) as db:
        await TenantRepository(db).add(
            Tenant(
                id=tenant_id,
                slug=f"t-{tenant_id.hex[:12]}",
                name=f"Tenant {tenant_id.hex[:6]}",
                status=status,
                plan="free",
                seat_quota=seat_quota,
                storage_quota_bytes=GIB,
                settings={},
                created_by=owner,
                idempotency_key=f"test:{tenant_id}",
            )
        )
        for name, permissions in (custom_roles or {}).items():
            await RoleRepository(db, tenant_id).add(
                Role(name=name, description="", permissions=permissions)
            )
        repository = MembershipRepository(db, tenant_id)
        await repository.add_member(owner, "owner")
        for label, role in (roles or {}).items():
            await repository.add_member(members[label], role)
    return Seeded(tenant_id, f"t-{tenant_id.hex[:12]}", owner, members)


@dataclass
class TenantApi:
    """The tenant app in-process, callers by user id and token tenant."""

    app: FastAPI
    runtime: AuthRuntime
    mailer: RecordingMailer
    resources: Resources

    @property
    def database(self) -> Database:
        return self.resources.database

    def token(self, user_id: uuid.UUID, tenant_id: uuid.UUID | None) -> str:
        return self.runtime.issuer.access_token(
            user_id=str(user_id),
            session_id=str(uuid.uuid4()),
            tenant_id=str(tenant_id) if tenant_id else None,
            roles=[],
            auth_methods=["pwd"],
        )

    @asynccontextmanager
    async def client(
        self, user_id: uuid.UUID, tenant_id: uuid.UUID | None
    ) -> AsyncIterator[httpx.AsyncClient]:
        # The JWKS the tenant service reads from Redis (published by auth processes; stale
        # after five minutes, so refreshed per client).
        await publish_jwks(
            self.resources.redis,
            self.resources.redis_keys,
            "tenant-http-tests",
            self.runtime.keys.jwks(),
        )
        async with in_process_client(self.app, base_url="http://tenant") as client:
            client.headers["authorization"] = f"Bearer {self.token(user_id, tenant_id)}"
            yield client


# --- DNS ----------------------------------------------------------------------------------------


class TxtResolver(BaseResolver):  # type: ignore[misc]
    """Answers TXT queries from ``records`` (name without trailing dot -> strings); NXDOMAIN
    for any other name."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.queries: list[str] = []

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        self.queries.append(name)
        values = self.records.get(name)
        if values is None:
            reply.header.rcode = 3  # NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for value in values:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=1))
        return reply


@dataclass
class LocalDns:
    resolver: TxtResolver
    port: int

    @property
    def nameservers(self) -> str:
        return f"127.0.0.1:{self.port}"


def start_dns() -> Iterator[LocalDns]:
    resolver = TxtResolver()
    server = DNSServer(resolver, address="127.0.0.1", port=0, logger=_QuietLogger())
    port = server.server.server_address[1]
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalDns(resolver, port)
    finally:
        server.server.shutdown()
        server.server.server_close()


class _QuietLogger:
    def __getattr__(self, _: str) -> Any:
        return lambda *args, **kwargs: None
