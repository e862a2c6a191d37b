"""No secret in clear in any workflow history (docs/auth.md, "Secrets never enter workflow
payloads"): each flow runs end to end on the real dev server, then its history is searched,
raw and decoded through the payload codec (what an operator with the codec key reads), for
the secrets the flow handled — the reset link token from the mail (minted and mailed inside one
activity, so not even sealed there) and the new password, the TOTP secret, its URI,
activation codes and recovery codes. (SSO's code, PKCE verifier, nonce and session tokens are
searched for in tests/auth/sso/test_sso.py, which owns the OpenID provider fixtures.)

Each test also checks what the history does hold instead (the sealed forms, the token's hash,
the mail step), so it fails if a sealing step is removed (the secret would be found) and if
decoding silently did nothing. With ``ADX_RECORD_HISTORIES=1`` these runs are the replay
histories of the new paths."""

from __future__ import annotations

import httpx
import pyotp
import pytest
from temporalio.client import Client, WorkflowFailureError

from services.auth.mfa.totp import code_at, current_step
from services.auth.opaque import hash_token
from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from tests.auth.history_search import SEALED, assert_absent, assert_code_absent, history_texts
from tests.auth.mail_flows import SmtpSink, record_history
from tests.auth.mfa.mfa_flows import (
    access_token,
    bearer,
    expiring_setup,
    mfa_token,
    verify,
)
from tests.auth.password_reset.reset_flows import (
    NEW_PASSWORD,
    confirm,
    request_reset,
    reset_token,
    run_of,
    short_lived_reset,
)
from tests.auth.users import create_user
from workflows.auth.contracts import ISSUE_ONE_TIME_TOKEN, MAIL_RESET_LINK
from workflows.auth.mfa_setup import MfaSetupResult

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
    assert MAIL_RESET_LINK.name in raw and ISSUE_ONE_TIME_TOKEN.name not in raw, (
        "minted in the mail step"
    )
    assert hash_token(token) in decoded, "the redeeming update carries the token's hash"
    assert "$argon2id$" in decoded, "and the new password as its argon2id hash"
    await record_history(handle, "password_reset.v3")


async def test_an_expired_reset_keeps_its_token_out_of_the_history(
    sink: SmtpSink, smtp_resources: Resources, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    async with short_lived_reset(sink, smtp_resources, user.email) as (_, token):
        handle = run_of(smtp_resources, user.email)
        assert (await handle.result()).status == "expired"

    raw, decoded = await history_texts(smtp_resources.temporal, handle)
    assert_absent(raw, decoded, link_token=token)
    assert MAIL_RESET_LINK.name in raw and ISSUE_ONE_TIME_TOKEN.name not in raw
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
    handle, sealed, secret = await expiring_setup(
        temporal, in_process_workers, auth_runtime, user.id
    )
    assert sealed.secret.startswith(SEALED) and sealed.otpauth_uri.startswith(SEALED)

    with pytest.raises(WorkflowFailureError):
        await handle.result()

    raw, decoded = await history_texts(temporal, handle)
    assert_absent(raw, decoded, totp_secret=secret)
    await record_history(handle, "mfa_setup.v3-expired")
