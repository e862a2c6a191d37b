"""MFA on the real dev server: the ``mfa_setup`` workflow (activation, wrong codes, deadline
compensation), the login's second step, replay protection, recovery codes, disabling."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from urllib.parse import parse_qs, unquote, urlparse

import httpx
import jwt
import pyotp
import pytest
from sqlalchemy import select
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from services.auth.mfa.activities import MfaActivities
from services.auth.mfa.recovery import hash_recovery_code
from services.auth.mfa.sealed import TOTP_SECRET
from services.auth.mfa.totp import code_at, current_step
from services.auth.runtime import AuthRuntime
from services.common.security_context import SecurityContext, acting_as
from storage.auth.claims import ClaimsRepository
from storage.auth.models import RecoveryCode
from storage.db import transaction
from tests.auth.mfa.mfa_flows import (
    access_token,
    audit_events,
    bearer,
    expiring_setup,
    mfa_enabled,
    mfa_token,
    mfa_user,
    opened,
    opened_codes,
    password_login,
    record_history,
    setup_secret,
    start_setup,
    stored_secret,
    verify,
)
from tests.auth.users import create_user
from workflows.auth.mfa_contracts import (
    CreateTotpSecretInput,
    DeleteTotpSecretInput,
    EnableMfaInput,
    VerifyTotpInput,
)
from workflows.auth.mfa_setup import (
    ACTIVATE_UPDATE,
    ActivateInput,
    MfaSetupInput,
    MfaSetupResult,
    mfa_setup_workflow_id,
)
from workflows.common.progress import PROGRESS_QUERY, Progress

# --- the setup workflow through HTTP --------------------------------------------------------


async def test_setup_activate_and_log_in_with_a_second_factor(
    client: httpx.AsyncClient, auth_runtime: AuthRuntime, temporal: Client
) -> None:
    user = await create_user(auth_runtime)
    auth = bearer(await access_token(client, user))

    started = await client.post("/auth/mfa/setup", headers=auth)
    assert started.status_code == 200, started.text
    assert started.headers["cache-control"] == "no-store"
    setup = started.json()
    assert setup["workflow_id"] == mfa_setup_workflow_id(str(user.id))
    uri = urlparse(setup["otpauth_uri"])
    query = parse_qs(uri.query)
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == f"/ADX CORE:{user.email}"
    assert query["issuer"] == ["ADX CORE"] and query["secret"] == [setup["secret"]]
    assert len(setup["secret"]) >= 32  # 160 bits of base32

    # Starting again joins the running setup: the QR code already scanned stays valid.
    again = await client.post("/auth/mfa/setup", headers=auth)
    assert again.status_code == 200 and again.json()["secret"] == setup["secret"]
    secret = setup["secret"]
    assert not await mfa_enabled(auth_runtime, user.id), "enabled before any code"

    wrong = await client.post("/auth/mfa/activate", headers=auth, json={"code": "000000"})
    if wrong.status_code == 200:  # 1 in a million: 000000 was the real code
        pytest.skip("the wrong code happened to be right")
    assert wrong.status_code == 400, wrong.text
    assert wrong.json()["attempts_left"] == 4 and "not valid" in wrong.json()["detail"]

    code = pyotp.TOTP(secret).now()
    activated = await client.post("/auth/mfa/activate", headers=auth, json={"code": code})
    assert activated.status_code == 200, activated.text
    codes = activated.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert activated.headers["cache-control"] == "no-store"

    handle = temporal.get_workflow_handle(setup["workflow_id"], result_type=MfaSetupResult)
    assert (await handle.result()).status == "enabled"
    progress = await handle.query(PROGRESS_QUERY, result_type=Progress)
    assert (progress.state, progress.percent) == ("completed", 100)
    assert await mfa_enabled(auth_runtime, user.id)
    status = (await client.get("/auth/mfa", headers=auth)).json()
    assert status == {"enabled": True, "recovery_codes_left": 10}

    # Only hashes are stored.
    async with transaction(auth_runtime.resources.database) as db:
        hashes = set(
            await db.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id))
        )
    assert hashes == {hash_recovery_code(user.id, c) for c in codes}
    assert not hashes & set(codes)

    # The activation code's step is spent: it cannot complete a login.
    replayed = await verify(client, await mfa_token(client, user), code=code)
    assert replayed.status_code == 401

    completed = await verify(
        client, await mfa_token(client, user), code=code_at(secret, current_step(secret) + 1)
    )
    assert completed.status_code == 200, completed.text
    tokens = completed.json()
    me = await client.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200 and me.json()["auth_methods"] == ["pwd", "otp"]

    events = await audit_events(auth_runtime, user.id)
    assert {"mfa.setup_started", "mfa.enabled", "mfa.verify_succeeded", "mfa.verify_failed"} <= set(
        events
    )
    record_history("mfa_setup", (await handle.fetch_history()).to_json())

    # With MFA on, setting it up again is refused.
    assert (await client.post("/auth/mfa/setup", headers=auth)).status_code == 409


async def test_wrong_codes_keep_waiting_then_cancel_the_setup(
    client: httpx.AsyncClient, auth_runtime: AuthRuntime, temporal: Client
) -> None:
    user = await create_user(auth_runtime)
    auth = bearer(await access_token(client, user))
    secret = (await client.post("/auth/mfa/setup", headers=auth)).json()["secret"]
    right = {code_at(secret, current_step(secret) + d) for d in (-1, 0, 1, 2)}
    wrong = next(c for c in (f"{n:06d}" for n in range(1000)) if c not in right)

    answers = [
        await client.post("/auth/mfa/activate", headers=auth, json={"code": wrong})
        for _ in range(5)
    ]

    assert [a.status_code for a in answers] == [400] * 5
    assert [a.json()["attempts_left"] for a in answers] == [4, 3, 2, 1, 0]
    assert "cancelled" in answers[-1].json()["detail"]
    assert (await audit_events(auth_runtime, user.id)).count("mfa.activation_failed") == 5
    handle = temporal.get_workflow_handle(mfa_setup_workflow_id(str(user.id)))
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert getattr(failure.value.cause, "type", None) == "MfaTooManyAttempts"
    assert await stored_secret(auth_runtime, user.id) is None, "compensation left the secret"
    assert not await mfa_enabled(auth_runtime, user.id)
    assert "mfa.setup_failed" in await audit_events(auth_runtime, user.id)

    # Even the right code is refused now: the setup is over.
    late = await client.post(
        "/auth/mfa/activate", headers=auth, json={"code": pyotp.TOTP(secret).now()}
    )
    assert late.status_code == 404
    # A new setup starts afresh with a new secret.
    fresh = await client.post("/auth/mfa/setup", headers=auth)
    assert fresh.status_code == 200 and fresh.json()["secret"] != secret


async def test_deadline_removes_the_unconfirmed_secret(
    temporal: Client, in_process_workers: str, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    handle, _, secret = await expiring_setup(temporal, in_process_workers, auth_runtime, user.id)
    assert (await stored_secret(auth_runtime, user.id)) is not None
    progress = await handle.query(PROGRESS_QUERY, result_type=Progress)
    assert progress.state == "waiting"

    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    assert isinstance(failure.value.cause, ApplicationError)
    assert failure.value.cause.type == "MfaSetupExpired"
    assert await stored_secret(auth_runtime, user.id) is None
    assert not await mfa_enabled(auth_runtime, user.id)
    progress = await handle.query(PROGRESS_QUERY, result_type=Progress)
    assert progress.state == "failed"
    with pytest.raises(Exception):  # noqa: B017 - the run is closed: no update reaches it
        await handle.execute_update(ACTIVATE_UPDATE, ActivateInput(pyotp.TOTP(secret).now()))
    record_history("mfa_setup_expired", (await handle.fetch_history()).to_json())


async def test_malformed_codes_cost_no_attempt(
    temporal: Client, in_process_workers: str, auth_runtime: AuthRuntime
) -> None:
    """Refused by the update validator: no attempt counted, nothing in the history."""
    user = await create_user(auth_runtime)
    handle = await start_setup(
        temporal, in_process_workers, MfaSetupInput(user_id=str(user.id), max_attempts=2)
    )
    _, secret = await setup_secret(handle, auth_runtime, user.id)
    for bad in ("12345", "1234567", "12a456", "", "١٢٣٤٥٦"):
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(ACTIVATE_UPDATE, ActivateInput(bad))

    codes = await handle.execute_update(
        ACTIVATE_UPDATE, ActivateInput(pyotp.TOTP(secret).now()), result_type=dict
    )
    assert len(codes["recovery_codes"]) == 10
    assert (await handle.result()).status == "enabled"
    history = await handle.fetch_history()
    accepted = [
        e
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert len(accepted) == 2  # the secret read and the one good code


async def test_concurrent_activations_enable_once(
    temporal: Client, in_process_workers: str, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    handle = await start_setup(temporal, in_process_workers, MfaSetupInput(user_id=str(user.id)))
    _, secret = await setup_secret(handle, auth_runtime, user.id)
    code = pyotp.TOTP(secret).now()

    results = await asyncio.gather(
        *(
            handle.execute_update(ACTIVATE_UPDATE, ActivateInput(code), result_type=dict)
            for _ in range(3)
        ),
        return_exceptions=True,
    )

    ok = [r for r in results if isinstance(r, dict)]
    assert len(ok) == 1, results
    async with transaction(auth_runtime.resources.database) as db:
        stored = set(
            await db.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id))
        )
    codes = opened_codes(auth_runtime, user.id, ok[0]["recovery_codes"])
    assert stored == {hash_recovery_code(user.id, c) for c in codes}


async def test_activation_without_a_setup_is_404(
    client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    auth = bearer(await access_token(client, user))
    response = await client.post("/auth/mfa/activate", headers=auth, json={"code": "123456"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


# --- activities ----------------------------------------------------------------------------


@acting_as(SecurityContext.system("test"))
async def test_setup_activities_are_idempotent(auth_runtime: AuthRuntime) -> None:
    user = await create_user(auth_runtime)
    activities = MfaActivities(auth_runtime)
    key = f"wf:{user.id}:run:secret"
    create = CreateTotpSecretInput(str(user.id), key)

    first = await activities.create_totp_secret(create)
    again = await activities.create_totp_secret(create)  # a retried activity
    assert (first.created, again.created) == (True, False)
    first, again = (
        dataclasses.replace(
            out,
            secret=opened(auth_runtime, user.id, TOTP_SECRET, out.secret),
            otpauth_uri=opened(auth_runtime, user.id, "otpauth-uri", out.otpauth_uri),
        )
        for out in (first, again)
    )
    assert first.secret == again.secret and first.otpauth_uri == again.otpauth_uri

    step = current_step(first.secret)
    check = VerifyTotpInput(str(user.id), key, code_at(first.secret, step))
    assert (await activities.verify_totp(check)).step == step
    assert (await activities.verify_totp(check)).step == step, "verify must be read-only"

    enable = EnableMfaInput(str(user.id), key, step, f"{key}:enable")
    one = await activities.enable_mfa(enable)
    two = await activities.enable_mfa(enable)  # retried after a lost result
    one, two = (
        dataclasses.replace(
            out, recovery_codes=opened_codes(auth_runtime, user.id, out.recovery_codes)
        )
        for out in (one, two)
    )
    assert await mfa_enabled(auth_runtime, user.id)
    async with transaction(auth_runtime.resources.database) as db:
        stored = set(
            await db.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id))
        )
    # Exactly one set of codes is valid: the one the recorded (last) attempt returned.
    assert stored == {hash_recovery_code(user.id, c) for c in two.recovery_codes}
    assert not stored & {hash_recovery_code(user.id, c) for c in one.recovery_codes}
    assert (await stored_secret(auth_runtime, user.id)).last_used_step == step  # type: ignore[union-attr]
    assert (await audit_events(auth_runtime, user.id)).count("mfa.enabled") == 1

    # Compensation never removes a confirmed secret, and a second setup cannot start.
    undo = DeleteTotpSecretInput(str(user.id), key, "test", f"{key}:undo")
    assert (await activities.delete_totp_secret(undo)).deleted is False
    assert await stored_secret(auth_runtime, user.id) is not None
    with pytest.raises(ApplicationError) as refused:
        await activities.create_totp_secret(CreateTotpSecretInput(str(user.id), "other:key"))
    assert refused.value.type == "MfaAlreadyEnabled"


@acting_as(SecurityContext.system("test"))
async def test_compensation_removes_only_its_own_pending_secret(auth_runtime: AuthRuntime) -> None:
    user = await create_user(auth_runtime)
    activities = MfaActivities(auth_runtime)
    await activities.create_totp_secret(CreateTotpSecretInput(str(user.id), "old:secret"))
    newer = await activities.create_totp_secret(CreateTotpSecretInput(str(user.id), "new:secret"))
    assert newer.created, "a leftover pending secret is replaced"

    stale = DeleteTotpSecretInput(str(user.id), "old:secret", "expired", "old:undo")
    assert (await activities.delete_totp_secret(stale)).deleted is False
    newest = opened(auth_runtime, user.id, TOTP_SECRET, newer.secret)
    assert (await stored_secret(auth_runtime, user.id)).secret == newest  # type: ignore[union-attr]
    with pytest.raises(ApplicationError) as gone:
        await activities.verify_totp(VerifyTotpInput(str(user.id), "old:secret", "123456"))
    assert gone.value.type == "MfaSetupNotFound"

    own = DeleteTotpSecretInput(str(user.id), "new:secret", "expired", "new:undo")
    assert (await activities.delete_totp_secret(own)).deleted is True
    assert (await activities.delete_totp_secret(own)).deleted is False  # idempotent
    assert await stored_secret(auth_runtime, user.id) is None


# --- the second factor at login -------------------------------------------------------------


async def test_totp_code_is_accepted_once_per_step(
    client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    mfa = await mfa_user(auth_runtime)
    code = mfa.code()

    first = await verify(client, await mfa_token(client, mfa.user), code=code)
    second = await verify(client, await mfa_token(client, mfa.user), code=code)

    assert first.status_code == 200, first.text
    assert second.status_code == 401 and second.json()["detail"] == "invalid or already used code"
    # An older step than the last one used is refused too (the previous step counts as used).
    older = await verify(client, await mfa_token(client, mfa.user), code=mfa.code(-1))
    assert older.status_code == 401
    failed = [e for e in await audit_events(auth_runtime, mfa.user.id) if e == "mfa.verify_failed"]
    assert len(failed) == 2


async def test_racing_logins_with_one_code_yield_one_session(
    client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    mfa = await mfa_user(auth_runtime)
    tokens = [await mfa_token(client, mfa.user) for _ in range(4)]
    code = mfa.code(1)

    answers = await asyncio.gather(*(verify(client, t, code=code) for t in tokens))

    assert sorted(a.status_code for a in answers) == [200, 401, 401, 401]


async def test_recovery_code_works_once(
    client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    mfa = await mfa_user(auth_runtime)
    retyped = f"  {mfa.recovery_codes[0].upper().replace('-', ' ')} "

    used = await verify(client, await mfa_token(client, mfa.user), recovery_code=retyped)
    reused = await verify(
        client, await mfa_token(client, mfa.user), recovery_code=mfa.recovery_codes[0]
    )

    assert used.status_code == 200, used.text
    me = await client.get("/auth/me", headers=bearer(used.json()["access_token"]))
    assert me.json()["auth_methods"] == ["pwd", "recovery"]
    assert reused.status_code == 401
    auth = bearer(used.json()["access_token"])
    assert (await client.get("/auth/mfa", headers=auth)).json()["recovery_codes_left"] == 9
    assert "mfa.recovery_code_used" in await audit_events(auth_runtime, mfa.user.id)
    # Another user's code is worthless here (hashes are bound to the user).
    other = await mfa_user(auth_runtime)
    foreign = await verify(
        client, await mfa_token(client, mfa.user), recovery_code=other.recovery_codes[0]
    )
    assert foreign.status_code == 401


async def test_partial_token_opens_no_other_endpoint(
    client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    mfa = await mfa_user(auth_runtime)
    partial = await mfa_token(client, mfa.user)

    for method, path in (
        ("GET", "/auth/me"),
        ("GET", "/auth/sessions"),
        ("POST", "/auth/logout"),
        ("GET", "/auth/mfa"),
        ("POST", "/auth/mfa/setup"),
    ):
        response = await client.request(method, path, headers=bearer(partial))
        assert response.status_code == 401, (path, response.text)
    for path, body in (
        ("/auth/mfa/activate", {"code": mfa.code()}),
        ("/auth/mfa/disable", {"code": mfa.code()}),
    ):
        response = await client.post(path, headers=bearer(partial), json=body)
        assert response.status_code == 401, (path, response.text)
    refresh = await client.post("/auth/refresh", json={"refresh_token": partial[:200]})
    assert refresh.status_code in (401, 422)
    assert await mfa_enabled(auth_runtime, mfa.user.id), "disable went through"


async def test_only_a_fresh_partial_token_completes_a_login(
    client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    mfa = await mfa_user(auth_runtime)
    plain = await create_user(auth_runtime)
    access = await access_token(client, plain)
    partial = await mfa_token(client, mfa.user)
    forged_claims = jwt.decode(partial, options={"verify_signature": False})
    header, _payload, signature = partial.split(".")
    other_payload = jwt.encode(
        {**forged_claims, "sub": str(plain.id)}, "k" * 32, algorithm="HS256"
    ).split(".")[1]

    for bad in (
        access,  # an access token is not a partial token (audience and type differ)
        f"{header}.{other_payload}.{signature}",  # tampered subject
        jwt.encode({**forged_claims}, "k" * 32, algorithm="HS256"),  # HS256 confusion
        "not.a.token",
    ):
        response = await verify(client, bad, recovery_code=mfa.recovery_codes[0])
        assert response.status_code == 401, response.text

    ok = await verify(client, partial, recovery_code=mfa.recovery_codes[0])
    assert ok.status_code == 200, ok.text
    spent = await verify(client, partial, recovery_code=mfa.recovery_codes[1])
    assert spent.status_code == 401 and "already used" in spent.json()["detail"]
    assert (await client.get("/auth/mfa", headers=bearer(ok.json()["access_token"]))).json()[
        "recovery_codes_left"
    ] == 9, "a refused token must not spend a code"


async def test_failed_attempt_leaves_the_partial_token_usable(
    client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    mfa = await mfa_user(auth_runtime)
    partial = await mfa_token(client, mfa.user)
    assert (await verify(client, partial, recovery_code="a" * 16)).status_code == 401
    assert (await verify(client, partial, code=mfa.code())).status_code == 200


async def test_wrong_codes_are_throttled(
    client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    mfa = await mfa_user(auth_runtime)
    partial = await mfa_token(client, mfa.user)
    valid = {mfa.code(d) for d in (-1, 0, 1, 2)}
    wrong = next(c for c in (f"{n:06d}" for n in range(1000)) if c not in valid)

    answers = [(await verify(client, partial, code=wrong)).status_code for _ in range(6)]

    assert answers == [401] * 5 + [429]
    # While throttled even the right code is refused: guessing cannot continue at speed.
    blocked = await verify(client, partial, code=mfa.code())
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1


async def test_tenant_login_with_mfa_carries_tenant_and_roles(
    client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    tenant = uuid.uuid4()
    mfa = await mfa_user(auth_runtime)
    async with transaction(auth_runtime.resources.database) as db:
        await ClaimsRepository(db).put(mfa.user.id, tenant, ["admin"])

    partial = await mfa_token(client, mfa.user, tenant_id=str(tenant))
    answer = await verify(client, partial, code=mfa.code())

    assert answer.status_code == 200, answer.text
    claims = jwt.decode(answer.json()["access_token"], options={"verify_signature": False})
    assert (claims["tid"], claims["roles"], claims["amr"]) == (
        str(tenant),
        ["admin"],
        ["pwd", "otp"],
    )


# --- disabling ------------------------------------------------------------------------------


async def test_disable_needs_a_current_code(
    client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    mfa = await mfa_user(auth_runtime)
    login_code = mfa.code()
    session = await verify(client, await mfa_token(client, mfa.user), code=login_code)
    auth = bearer(session.json()["access_token"])

    refused = await client.post("/auth/mfa/disable", headers=auth, json={"code": login_code})
    assert refused.status_code == 401, "the step used at login must not disable MFA"
    assert await mfa_enabled(auth_runtime, mfa.user.id)

    done = await client.post("/auth/mfa/disable", headers=auth, json={"code": mfa.code(1)})
    assert done.status_code == 204, done.text
    assert not await mfa_enabled(auth_runtime, mfa.user.id)
    assert await stored_secret(auth_runtime, mfa.user.id) is None
    assert (await client.get("/auth/mfa", headers=auth)).json() == {
        "enabled": False,
        "recovery_codes_left": 0,
    }
    assert "mfa.disabled" in await audit_events(auth_runtime, mfa.user.id)
    # Login is one step again, and disabling twice is a conflict.
    assert (await password_login(client, mfa.user))["tokens"] is not None
    again = await client.post("/auth/mfa/disable", headers=auth, json={"code": mfa.code(1)})
    assert again.status_code == 409
    # ... and MFA can be set up anew, with a new secret.
    fresh = await client.post("/auth/mfa/setup", headers=auth)
    assert fresh.status_code == 200 and fresh.json()["secret"] != mfa.secret
