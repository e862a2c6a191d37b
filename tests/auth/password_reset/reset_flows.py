"""Helpers of the password-reset tests: requesting and confirming a reset over the auth API,
the mailed token, the run of an address, and what the database holds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import select
from temporalio.client import WorkflowHandle

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from storage.auth.models import AuditEvent, Credential
from storage.db import transaction
from tests.auth.mail_flows import SmtpSink, auth_api, link_token
from tests.auth.users import AuthUser
from workflows.auth.password_reset import PasswordResetResult, password_reset_workflow_id
from workflows.common.progress import PROGRESS_QUERY, Progress

NEW_PASSWORD = "a brand new passphrase"


def run_of(resources: Resources, email: str) -> WorkflowHandle[object, PasswordResetResult]:
    return resources.temporal.get_workflow_handle(
        password_reset_workflow_id(email), result_type=PasswordResetResult
    )


async def request_reset(api: httpx.AsyncClient, email: str) -> httpx.Response:
    return await api.post("/auth/password-reset", json={"email": email})


async def confirm(
    api: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    return await api.post(
        "/auth/password-reset/confirm", json={"token": token, "new_password": password}
    )


async def reset_token(sink: SmtpSink, email: str, nth: int = 1) -> str:
    mails = await sink.wait_for(email, count=nth)
    return link_token(mails[nth - 1].text, "/reset-password")


@asynccontextmanager
async def short_lived_reset(
    sink: SmtpSink, resources: Resources, email: str
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A reset of ``email`` requested of an auth API whose links live two seconds: that API
    and the mailed token."""
    async with auth_api(resources, auth_reset_token_minutes=2 / 60) as short_lived:
        await request_reset(short_lived, email)
        yield short_lived, await reset_token(sink, email)


def bearer(tokens: dict[str, object]) -> dict[str, str]:
    return {"authorization": f"Bearer {tokens['access_token']}"}


async def can_login(api: httpx.AsyncClient, email: str, password: str) -> int:
    return (await api.post("/auth/login", json={"email": email, "password": password})).status_code


async def events_of(runtime: AuthRuntime, user: AuthUser) -> list[str]:
    async with transaction(runtime.resources.database) as db:
        rows = await db.scalars(select(AuditEvent.event).where(AuditEvent.user_id == user.id))
        return list(rows)


async def stored(runtime: AuthRuntime, user: AuthUser) -> Credential:
    async with transaction(runtime.resources.database) as db:
        row = await db.get(Credential, user.id)
    assert row is not None
    return row


async def waiting_progress(handle: WorkflowHandle[object, PasswordResetResult]) -> Progress:
    deadline = time.monotonic() + 30
    while (progress := await handle.query(PROGRESS_QUERY, result_type=Progress)).state != "waiting":
        assert time.monotonic() < deadline, progress
        await asyncio.sleep(0.05)
    return progress
