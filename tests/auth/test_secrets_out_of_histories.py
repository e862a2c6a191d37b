# ruff: noqa: F811 - pytest fixtures imported from conftest_sso and mail_flows are test parameters
"""No secret in clear in any workflow history (docs/auth.md, "Secrets never enter workflow
payloads"): each flow runs end to end on the real dev server, then its history is searched,
raw and decoded through the payload codec (what an operator with the codec key reads), for
the secrets the flow handled — the reset link token from the mail (minted and mailed inside one
activity, so not even sealed there) and the new password, the TOTP secret, its URI,
activation codes and recovery codes, the SSO code, PKCE verifier, nonce and session tokens.

Each test also checks what the history does hold instead (the sealed forms, the token's hash,
the mail step), so it fails if a sealing step is removed (the secret would be found) and if
decoding silently did nothing. With ``ADX_RECORD_HISTORIES=1`` these runs are the replay
histories of the new paths."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pyotp
import pytest
from google.protobuf.message import Message
from temporalio import activity
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from services.auth.mfa.sealed import TOTP_SECRET
from services.auth.mfa.totp import code_at, current_step
from services.auth.opaque import hash_token
from services.auth.runtime import AuthRuntime
from services.auth.sso.sealed import open_session
from services.auth.sso.state import SsoStateStore
from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName
from storage.auth.models import Credential
from storage.db import transaction
from tests.auth import mail_flows
from tests.auth.conftest import create_user
from tests.auth.conftest_sso import (  # noqa: F401 - fixtures are used by name
    SsoEnv,
    add_account,
    begin,
    client_on,
    finish,
    oidc_providers,
    running,
    sso_client,
    sso_env,
    sso_workers,
    unique_email,
)
from tests.auth.mail_flows import SmtpSink, auth_api, record_history
from tests.auth.test_mfa import (
    access_token,
    bearer,
    mfa_token,
    opened,
    start_setup,
    verify,
)
from tests.auth.test_mfa import client as mfa_client
from tests.auth.test_password_reset import NEW_PASSWORD, confirm, request_reset, reset_token, run_of
from workflows.auth.contracts import ISSUE_ONE_TIME_TOKEN, MAIL_RESET_LINK
from workflows.auth.mfa_setup import SECRET_UPDATE, MfaSecret, MfaSetupInput, MfaSetupResult
from workflows.auth.sso_authentication import (
    SsoAuthenticationInput,
    SsoAuthenticationResult,
    SsoAuthenticationWorkflow,
    sso_workflow_id,
)
from workflows.common.errors import INVALID_INPUT, business_error
from workflows.user.contracts import CREATE_PROFILE, CreateProfileInput, CreateProfileOutput

sink, smtp_resources, api = mail_flows.sink, mail_flows.smtp_resources, mail_flows.api
client = mfa_client
SEALED = "sealed:v1:"


def _payloads(message: Message) -> Iterator[Payload]:
    """Every Payload inside a protobuf message: inputs, results, update arguments, failures
    (their details and encoded attributes), headers, markers."""
    if isinstance(message, Payload):
        yield message
        return
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        if descriptor.message_type.GetOptions().map_entry:
            items = list(value.values())
        elif descriptor.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            if isinstance(item, Message):
                yield from _payloads(item)


async def history_texts(temporal: Client, handle: WorkflowHandle[Any, Any]) -> tuple[str, str]:
    """(the history as JSON, every payload in it decoded with the client's codec)."""
    history = await handle.fetch_history()
    codec = temporal.data_converter.payload_codec
    assert codec is not None, "payloads are encrypted"
    payloads = [p for event in history.events for p in _payloads(event)]
    decoded = await codec.decode(payloads)
    assert decoded, "the history has payloads"
    return history.to_json(), "\n".join(p.data.decode("utf-8", "replace") for p in decoded)


def assert_absent(raw: str, decoded: str, **secrets: str) -> None:
    for name, value in secrets.items():
        assert value, name
        assert value not in raw, f"{name} in the raw history"
        assert value not in decoded, f"{name} in the decoded history"


def assert_code_absent(raw: str, decoded: str, code: str) -> None:
    """A 6-digit code as a JSON string value (digits alone could match anything)."""
    for text in (raw, decoded):
        assert f'"{code}"' not in text


# --- password reset: the link token ----------------------------------------------------------


async def test_reset_link_token_and_password_never_enter_the_history(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    assert (await request_reset(api, user.email)).status_code == 202
    token = await reset_token(sink, user.email)

    done = await confirm(api, token)

    assert done.status_code == 200 and done.json() == {"status": "completed"}, done.text
    handle = run_of(smtp_resources, user.email)
    assert (await handle.result()).status == "completed"
    login = {"email": user.email, "password": NEW_PASSWORD}
    assert (await api.post("/auth/login", json=login)).status_code == 200
    raw, decoded = await history_texts(smtp_resources.temporal, handle)
    assert_absent(raw, decoded, link_token=token, new_password=NEW_PASSWORD)
    assert MAIL_RESET_LINK in raw and ISSUE_ONE_TIME_TOKEN not in raw, "minted in the mail step"
    assert hash_token(token) in decoded, "the redeeming update carries the token's hash"
    assert "$argon2id$" in decoded, "and the new password as its argon2id hash"
    await record_history(handle, "password_reset.v3")


async def test_an_expired_reset_keeps_its_token_out_of_the_history(
    sink: SmtpSink, smtp_resources: Resources, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    async with auth_api(smtp_resources, auth_reset_token_minutes=2 / 60) as short_lived:
        await request_reset(short_lived, user.email)
        token = await reset_token(sink, user.email)
        handle = run_of(smtp_resources, user.email)
        assert (await handle.result()).status == "expired"

    raw, decoded = await history_texts(smtp_resources.temporal, handle)
    assert_absent(raw, decoded, link_token=token)
    assert MAIL_RESET_LINK in raw and ISSUE_ONE_TIME_TOKEN not in raw
    await record_history(handle, "password_reset.v3-expired")


# --- MFA setup: secret, URI, codes -----------------------------------------------------------


async def test_mfa_secret_codes_and_recovery_codes_never_enter_the_history(
    client: httpx.AsyncClient, auth_runtime: AuthRuntime, temporal: Client
) -> None:
    user = await create_user(auth_runtime)
    auth = bearer(await access_token(client, user))
    setup = (await client.post("/auth/mfa/setup", headers=auth)).json()
    secret, uri = setup["secret"], setup["otpauth_uri"]
    assert f"secret={secret}" in uri and not secret.startswith(SEALED)
    right = {code_at(secret, current_step(secret) + d) for d in (-1, 0, 1, 2)}
    wrong = next(c for c in (f"{n:06d}" for n in range(1000)) if c not in right)
    refused = await client.post("/auth/mfa/activate", headers=auth, json={"code": wrong})
    assert refused.status_code == 400, refused.text

    code = pyotp.TOTP(secret).now()
    activated = await client.post("/auth/mfa/activate", headers=auth, json={"code": code})

    assert activated.status_code == 200, activated.text
    codes = activated.json()["recovery_codes"]
    assert len(codes) == 10 and not any(c.startswith(SEALED) for c in codes)
    handle = temporal.get_workflow_handle(setup["workflow_id"], result_type=MfaSetupResult)
    assert (await handle.result()).status == "enabled"
    # The codes shown work: opened at the edge, they are the stored ones.
    signed_in = await verify(client, await mfa_token(client, user), recovery_code=codes[0])
    assert signed_in.status_code == 200, signed_in.text
    raw, decoded = await history_texts(temporal, handle)
    assert_absent(
        raw,
        decoded,
        totp_secret=secret,
        otpauth_uri=uri,
        **{f"recovery_{i}": c for i, c in enumerate(codes)},
    )
    assert_code_absent(raw, decoded, code)
    assert_code_absent(raw, decoded, wrong)
    assert decoded.count(SEALED) >= 1 + 1 + 2 + 10, "secret, URI, two codes, ten recovery codes"
    await record_history(handle, "mfa_setup.v3")


async def test_an_expired_mfa_setup_keeps_its_secret_out_of_the_history(
    temporal: Client, in_process_workers: str, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    handle = await start_setup(
        temporal, in_process_workers, MfaSetupInput(user_id=str(user.id), deadline_seconds=2)
    )
    sealed = await handle.execute_update(SECRET_UPDATE, result_type=MfaSecret)
    assert sealed.secret.startswith(SEALED) and sealed.otpauth_uri.startswith(SEALED)
    secret = opened(auth_runtime, user.id, TOTP_SECRET, sealed.secret)

    with pytest.raises(WorkflowFailureError):
        await handle.result()

    raw, decoded = await history_texts(temporal, handle)
    assert_absent(raw, decoded, totp_secret=secret)
    await record_history(handle, "mfa_setup.v3-expired")


# --- SSO: grant and session tokens -----------------------------------------------------------


async def pending_grant(env: SsoEnv, state: str) -> dict[str, str]:
    """The nonce and PKCE verifier ``start`` keeps for ``state`` (read, not spent)."""
    key = SsoStateStore(env.auth.redis, env.auth.keys)._key(state)
    raw = await env.auth.redis.get(key)
    assert raw is not None
    return json.loads(raw)  # type: ignore[no-any-return]


async def test_sso_grant_and_session_tokens_never_enter_the_history(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    sub = await add_account(sso_env.providers.main, email=unique_email())
    authorization = await begin(sso_client, "main", sub)
    pending = await pending_grant(sso_env, authorization.state)

    response = await finish(sso_client, "main", authorization.query)

    assert response.status_code == 200, response.text
    tokens = response.json()["tokens"]
    me = await sso_client.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200 and me.json()["auth_methods"] == ["sso"]
    handle = sso_env.auth.temporal.get_workflow_handle(sso_workflow_id(authorization.state))
    raw, decoded = await history_texts(sso_env.auth.temporal, handle)
    assert_absent(
        raw,
        decoded,
        code=authorization.query["code"],
        code_verifier=pending["code_verifier"],
        nonce=pending["nonce"],
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )
    assert decoded.count(SEALED) >= 1 + 2 * 2, "the grant; both tokens in the output and result"
    await record_history(handle, "sso_authentication.v2")


async def test_sso_partial_token_never_enters_the_history(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    local = await create_user(sso_env.runtime)
    async with transaction(sso_env.auth.sessions) as db:
        (await db.get(Credential, local.id)).mfa_enabled = True  # type: ignore[union-attr]
    sub = await add_account(sso_env.providers.main, email=local.email)
    authorization = await begin(sso_client, "main", sub)

    response = await finish(sso_client, "main", authorization.query)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mfa_required"] is True and not body["mfa_token"].startswith(SEALED)
    handle = sso_env.auth.temporal.get_workflow_handle(sso_workflow_id(authorization.state))
    raw, decoded = await history_texts(sso_env.auth.temporal, handle)
    assert_absent(raw, decoded, mfa_token=body["mfa_token"], code=authorization.query["code"])


async def test_a_rolled_back_sso_sign_in_keeps_its_grant_out_of_the_history(
    sso_env: SsoEnv,
) -> None:
    @activity.defn(name=CREATE_PROFILE)
    async def refuse_profile(input: CreateProfileInput) -> CreateProfileOutput:
        raise business_error(INVALID_INPUT, "the profile store refuses")

    resources = sso_env.variant(task_queue_prefix=f"{sso_env.settings.task_queue_prefix}s")
    sub = await add_account(sso_env.providers.main, email=unique_email())
    async with (
        running(sso_workers(sso_env, resources, [refuse_profile])),
        client_on(resources) as browser,
    ):
        authorization = await begin(browser, "main", sub)
        pending = await pending_grant(sso_env, authorization.state)
        response = await finish(browser, "main", authorization.query)
        handle = resources.temporal.get_workflow_handle(sso_workflow_id(authorization.state))
        raw, decoded = await history_texts(resources.temporal, handle)
        await record_history(handle, "sso_authentication.v2-rolled-back")

    assert response.status_code == 503, response.text
    assert_absent(
        raw,
        decoded,
        code=authorization.query["code"],
        code_verifier=pending["code_verifier"],
        nonce=pending["nonce"],
    )
    assert SEALED in decoded


# --- runs started before sealing keep working ------------------------------------------------


async def test_a_run_started_with_a_raw_grant_still_signs_in(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    """A run the callback route started before sealing carries the grant in clear: the code
    exchange still takes it, and the route opens the (now sealed) tokens of its result."""
    sub = await add_account(sso_env.providers.main, email=unique_email())
    authorization = await begin(sso_client, "main", sub)
    pending = await pending_grant(sso_env, authorization.state)
    settings = sso_env.auth.settings

    with acting_as(SecurityContext.anonymous()):
        handle = await sso_env.auth.temporal.start_workflow(
            SsoAuthenticationWorkflow.run,
            SsoAuthenticationInput(
                provider="main",
                code=authorization.query["code"],
                code_verifier=pending["code_verifier"],
                nonce=pending["nonce"],
            ),
            id=sso_workflow_id(authorization.state),
            task_queue=settings.task_queue(ServiceName.auth),
        )
    result: SsoAuthenticationResult = await handle.result()

    assert result.outcome == "created"
    assert result.session.access_token and result.session.access_token.startswith(SEALED)
    session = open_session(settings, result.user_id, result.session)
    assert session.access_token is not None
    me = await sso_client.get("/auth/me", headers=bearer(session.access_token))
    assert me.status_code == 200 and me.json()["user_id"] == result.user_id
    # And a result recorded before sealing (tokens in clear) passes the route unchanged.
    assert open_session(settings, result.user_id, session) == session
