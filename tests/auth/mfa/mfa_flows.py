"""Helpers of the MFA tests: logins up to the second step, a user with MFA on through the real
activities, the ``mfa_setup`` workflow started as the user, and what the database holds."""

from __future__ import annotations

import dataclasses
import os
import uuid
from typing import Any

import httpx
from temporalio.client import Client

from services.auth.mfa.activities import MfaActivities
from services.auth.mfa.sealed import RECOVERY_CODE, TOTP_SECRET, MfaSeals
from services.auth.mfa.totp import code_at, current_step
from services.auth.runtime import AuthRuntime
from services.common.security_context import SecurityContext, acting_as
from storage.auth.audit import AuditRepository
from storage.auth.models import Credential, TotpSecret
from storage.db import transaction
from tests.auth.users import AuthUser, create_user
from tests.history_files import HISTORIES
from workflows.auth.contracts import AuthWorkflow
from workflows.auth.mfa_contracts import (
    CreateTotpSecretInput,
    EnableMfaInput,
)
from workflows.auth.mfa_setup import (
    SECRET_UPDATE,
    MfaSecret,
    MfaSetupInput,
    MfaSetupResult,
    mfa_setup_workflow_id,
)


def bearer(token: object) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def password_login(client: httpx.AsyncClient, user: AuthUser, **extra: object) -> dict:  # type: ignore[type-arg]
    response = await client.post(
        "/auth/login", json={"email": user.email, "password": user.password, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def access_token(client: httpx.AsyncClient, user: AuthUser) -> str:
    body = await password_login(client, user)
    assert body["tokens"] is not None, "expected a full login (MFA off)"
    return str(body["tokens"]["access_token"])


async def mfa_token(client: httpx.AsyncClient, user: AuthUser, **extra: object) -> str:
    body = await password_login(client, user, **extra)
    assert body["mfa_required"] is True and body["tokens"] is None, body
    return str(body["mfa_token"])


@dataclasses.dataclass
class MfaUser:
    user: AuthUser
    secret: str
    recovery_codes: list[str]

    def code(self, offset: int = 0) -> str:
        return code_at(self.secret, current_step(self.secret) + offset)


def opened(runtime: AuthRuntime, user_id: object, kind: str, sealed: str) -> str:
    """A value the MFA activities sealed for ``user_id``, opened as the auth API does."""
    return MfaSeals(runtime.settings, str(user_id)).open(kind, sealed)


def opened_codes(runtime: AuthRuntime, user_id: object, sealed: list[str]) -> list[str]:
    return [opened(runtime, user_id, RECOVERY_CODE, code) for code in sealed]


async def mfa_user(runtime: AuthRuntime) -> MfaUser:
    """A user with MFA on, through the real activities (no workflow: quick). The step before now
    counts as used, so each test has two fresh codes: now and the next step."""
    user = await create_user(runtime)
    activities = MfaActivities(runtime)
    key = f"test:{user.id}"
    with acting_as(SecurityContext.for_user(str(user.id))):
        created = await activities.create_totp_secret(CreateTotpSecretInput(str(user.id), key))
        secret = opened(runtime, user.id, TOTP_SECRET, created.secret)
        enabled = await activities.enable_mfa(
            EnableMfaInput(
                user_id=str(user.id),
                setup_key=key,
                step=current_step(secret) - 1,
                idempotency_key=f"{key}:enable",
            )
        )
    return MfaUser(user, secret, opened_codes(runtime, user.id, enabled.recovery_codes))


async def verify(client: httpx.AsyncClient, token: str, **factor: str) -> httpx.Response:
    return await client.post("/auth/mfa/verify", json={"mfa_token": token, **factor})


async def stored_secret(runtime: AuthRuntime, user_id: uuid.UUID) -> TotpSecret | None:
    async with transaction(runtime.resources.database) as db:
        return await db.get(TotpSecret, user_id)


async def mfa_enabled(runtime: AuthRuntime, user_id: uuid.UUID) -> bool:
    async with transaction(runtime.resources.database) as db:
        credential = await db.get(Credential, user_id)
    assert credential is not None
    return credential.mfa_enabled


async def audit_events(runtime: AuthRuntime, user_id: uuid.UUID) -> list[str]:
    async with transaction(runtime.resources.database) as db:
        return [e.event for e in await AuditRepository(db).for_user(user_id)]


def record_history(name: str, history_json: str) -> None:
    if os.environ.get("ADX_RECORD_HISTORIES") == "1":
        (HISTORIES / f"{name}.json").write_text(history_json)


async def start_setup(temporal: Client, prefix: str, setup: MfaSetupInput):  # type: ignore[no-untyped-def]
    """Started as the user themself, as the auth API does (the activities check it)."""
    with acting_as(SecurityContext.for_user(setup.user_id)):
        return await temporal.start_workflow(
            AuthWorkflow.MFA_SETUP,
            setup,
            id=mfa_setup_workflow_id(setup.user_id),
            task_queue=f"{prefix}-auth",
            result_type=MfaSetupResult,
        )


async def setup_secret(handle: Any, runtime: AuthRuntime, user_id: object) -> tuple[MfaSecret, str]:
    """A setup's secret as its update answers (sealed), and the TOTP secret opened from it."""
    sealed = await handle.execute_update(SECRET_UPDATE, result_type=MfaSecret)
    return sealed, opened(runtime, user_id, TOTP_SECRET, sealed.secret)


async def expiring_setup(
    temporal: Client, prefix: str, runtime: AuthRuntime, user_id: object
) -> tuple[Any, MfaSecret, str]:
    """A setup with a two-second deadline, its secret read: the run, sealed and opened."""
    handle = await start_setup(
        temporal, prefix, MfaSetupInput(user_id=str(user_id), deadline_seconds=2)
    )
    sealed, secret = await setup_secret(handle, runtime, user_id)
    return handle, sealed, secret


async def alive(client: httpx.AsyncClient, tokens: dict[str, Any]) -> tuple[int, int]:
    """(``/auth/me`` with the access token, refresh with the refresh token): 200s while the
    session lives. The refresh rotates, so call it once per session."""
    me = await client.get("/auth/me", headers=bearer(tokens["access_token"]))
    refresh = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    return me.status_code, refresh.status_code
