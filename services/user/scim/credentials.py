"""SCIM bearer tokens: ``adxscim_<tenant id hex>_<secret>``. The text names its tenant, so a
presented token is looked up (by its SHA-256 digest) only among that tenant's rows, in a
transaction bound to that tenant (RLS); a token of tenant A never reaches tenant B's data."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Final

from fastapi import Depends, Request

from services.common.app import DatabaseDep
from services.user.scim.errors import unauthorized
from storage.db import Database, DbSession, transaction
from storage.users.models import ScimToken
from storage.users.scim_tokens import ScimTokenRepository

PREFIX: Final = "adxscim_"
TOKEN: Final = re.compile(r"adxscim_([0-9a-f]{32})_[A-Za-z0-9_-]{43}")


def new_token(tenant_id: uuid.UUID) -> str:
    return f"{PREFIX}{tenant_id.hex}_{secrets.token_urlsafe(32)}"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ScimCaller:
    """A verified SCIM client: its tenant, its token, and the request's transaction."""

    tenant_id: uuid.UUID
    token_id: uuid.UUID
    db: DbSession


@dataclass(frozen=True)
class ScimWriter:
    """A verified SCIM client that writes: its tenant, its token, and the admin who issued the
    token (whom its provisioning acts as). The credential check is committed before the route
    runs, so no transaction stays open while the route waits for a workflow; each read or
    write opens its own short one (``transaction``)."""

    tenant_id: uuid.UUID
    token_id: uuid.UUID
    issuer_id: uuid.UUID
    database: Database

    def transaction(self) -> AbstractAsyncContextManager[DbSession]:
        return transaction(self.database, self.tenant_id)


def presented_token(request: Request) -> str:
    header = request.headers.get("authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise unauthorized("a SCIM bearer token is needed")
    return value.strip()


def _tenant_of(request: Request) -> tuple[str, uuid.UUID]:
    token = presented_token(request)
    matched = TOKEN.fullmatch(token)
    if matched is None:
        raise unauthorized("not a SCIM token")
    return token, uuid.UUID(matched.group(1))


async def _authenticate(db: DbSession, tenant_id: uuid.UUID, token: str) -> ScimToken:
    row = await ScimTokenRepository(db, tenant_id).authenticate(digest(token), datetime.now(UTC))
    if row is None:
        raise unauthorized("unknown or revoked SCIM token")
    return row


async def scim_caller(request: Request, database: DatabaseDep) -> AsyncIterator[ScimCaller]:
    token, tenant_id = _tenant_of(request)
    async with transaction(database, tenant_id) as db:
        row = await _authenticate(db, tenant_id, token)
        yield ScimCaller(tenant_id=tenant_id, token_id=row.id, db=db)


async def scim_writer(request: Request, database: DatabaseDep) -> ScimWriter:
    token, tenant_id = _tenant_of(request)
    async with transaction(database, tenant_id) as db:
        row = await _authenticate(db, tenant_id, token)
    return ScimWriter(
        tenant_id=tenant_id, token_id=row.id, issuer_id=row.created_by, database=database
    )


ScimCallerDep = Annotated[ScimCaller, Depends(scim_caller)]
ScimWriterDep = Annotated[ScimWriter, Depends(scim_writer)]
