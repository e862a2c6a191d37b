"""Changing the second factor ends the user's other sessions and keeps the current one (ASVS 5.0
7.4.3): enabling MFA through the ``mfa_setup`` workflow, and disabling it."""

from __future__ import annotations

from typing import Any

import httpx
import pyotp
import pytest
from temporalio.client import Client, WorkflowUpdateFailedError

from services.auth.runtime import AuthRuntime
from tests.auth.mail_flows import record_history
from tests.auth.mfa.mfa_flows import (
    alive,
    audit_events,
    bearer,
    mfa_enabled,
    mfa_token,
    mfa_user,
    setup_secret,
    start_setup,
    verify,
)
from tests.auth.users import create_user, login
from workflows.auth.contracts import REVOKE_SESSIONS
from workflows.auth.mfa_setup import (
    ACTIVATE_UPDATE,
    ActivateInput,
    MfaSetupInput,
    MfaSetupResult,
    mfa_setup_workflow_id,
)


def scheduled_activities(history: Any) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]


async def test_enabling_mfa_ends_other_sessions_and_keeps_this_one(
    client: httpx.AsyncClient, auth_runtime: AuthRuntime, temporal: Client
) -> None:
    user = await create_user(auth_runtime)
    current, other = await login(client, user), await login(client, user)
    auth = bearer(current["access_token"])
    secret = (await client.post("/auth/mfa/setup", headers=auth)).json()["secret"]

    activated = await client.post(
        "/auth/mfa/activate", headers=auth, json={"code": pyotp.TOTP(secret).now()}
    )

    assert activated.status_code == 200, activated.text
    assert await alive(client, other) == (401, 401), "another session survived enabling MFA"
    assert await alive(client, current) == (200, 200), "the enabling session was ended"
    assert await mfa_enabled(auth_runtime, user.id)
    assert "session.revoked_all" in await audit_events(auth_runtime, user.id)
    handle = temporal.get_workflow_handle(
        mfa_setup_workflow_id(str(user.id)), result_type=MfaSetupResult
    )
    assert (await handle.result()).status == "enabled"
    history = await handle.fetch_history()
    assert scheduled_activities(history)[-1] == REVOKE_SESSIONS.name
    await record_history(handle, "mfa_setup.v2")


async def test_disabling_mfa_ends_other_sessions_and_keeps_this_one(
    client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    mfa = await mfa_user(auth_runtime)
    current = (await verify(client, await mfa_token(client, mfa.user), code=mfa.code())).json()
    other = (
        await verify(client, await mfa_token(client, mfa.user), recovery_code=mfa.recovery_codes[0])
    ).json()

    done = await client.post(
        "/auth/mfa/disable", headers=bearer(current["access_token"]), json={"code": mfa.code(1)}
    )

    assert done.status_code == 204, done.text
    assert not await mfa_enabled(auth_runtime, mfa.user.id)
    assert await alive(client, other) == (401, 401), "another session survived disabling MFA"
    assert await alive(client, current) == (200, 200), "the disabling session was ended"


async def test_a_refused_disable_ends_no_session(
    client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    mfa = await mfa_user(auth_runtime)
    login_code = mfa.code()
    current = (await verify(client, await mfa_token(client, mfa.user), code=login_code)).json()
    other = (
        await verify(client, await mfa_token(client, mfa.user), recovery_code=mfa.recovery_codes[0])
    ).json()

    replayed = await client.post(
        "/auth/mfa/disable", headers=bearer(current["access_token"]), json={"code": login_code}
    )

    assert replayed.status_code == 401
    assert await mfa_enabled(auth_runtime, mfa.user.id)
    assert await alive(client, other) == (200, 200)


@pytest.mark.parametrize("session_id", ["not-a-uuid", "", "1" * 5000])
async def test_a_malformed_session_id_is_refused_before_anything_changes(
    temporal: Client, in_process_workers: str, auth_runtime: AuthRuntime, session_id: str
) -> None:
    user = await create_user(auth_runtime)
    handle = await start_setup(temporal, in_process_workers, MfaSetupInput(user_id=str(user.id)))
    _, secret = await setup_secret(handle, auth_runtime, user.id)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            ACTIVATE_UPDATE, ActivateInput(pyotp.TOTP(secret).now(), session_id=session_id)
        )

    assert getattr(refused.value.cause, "type", None) == "InvalidInput"
    assert not await mfa_enabled(auth_runtime, user.id)
    await handle.terminate("test done")


async def test_an_activation_without_a_session_ends_every_session(
    client: httpx.AsyncClient, temporal: Client, in_process_workers: str, auth_runtime: AuthRuntime
) -> None:
    """A caller that names no session (not the auth API) keeps none open."""
    user = await create_user(auth_runtime)
    tokens = await login(client, user)
    handle = await start_setup(temporal, in_process_workers, MfaSetupInput(user_id=str(user.id)))
    _, secret = await setup_secret(handle, auth_runtime, user.id)

    await handle.execute_update(
        ACTIVATE_UPDATE, ActivateInput(pyotp.TOTP(secret).now()), result_type=dict
    )

    assert await alive(client, tokens) == (401, 401)
