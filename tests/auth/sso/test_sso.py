"""SSO end to end against a real OpenID provider (oidc-provider): new, linked and returning
accounts, link refusals, and attacks on state, nonce, code and signing key."""

from __future__ import annotations

import json
import os
import uuid

import httpx
import pytest
from sqlalchemy import ColumnElement, func, select
from temporalio.client import Client

from services.auth.sso import FEATURE
from services.auth.sso.activities import SsoActivities
from services.auth.sso.config import SsoConfigError
from services.auth.sso.sealed import open_session
from services.auth.sso.state import SsoStateStore
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName
from services.devstack.ports import free_port
from storage.auth.models import AuditEvent, Credential, Session, SsoIdentity
from storage.db import transaction
from storage.users.models import Profile
from tests.auth.history_search import SEALED, assert_absent, history_texts
from tests.auth.mail_flows import record_history as record_run_history
from tests.auth.sso.providers import (
    CLIENT_ID,
    SsoEnv,
    add_account,
    begin,
    client_on,
    finish,
    running,
    sso_workers,
    unique_email,
)
from tests.auth.users import AuthUser, create_user
from tests.history_files import HISTORIES, tamper
from workflows.auth.contracts import AuthWorkflow
from workflows.auth.sso_authentication import (
    SsoAuthenticationInput,
    SsoAuthenticationResult,
    SsoAuthenticationWorkflow,
    sso_workflow_id,
)
from workflows.auth.sso_contracts import (
    CreateSsoSessionInput,
    DeleteSsoAccountInput,
    LinkSsoIdentityInput,
)
from workflows.common.errors import business_error
from workflows.common.progress import PROGRESS_QUERY, Progress
from workflows.user.contracts import (
    CREATE_PROFILE,
    CreateProfileInput,
    CreateProfileOutput,
    UserError,
)

PROBLEM = "application/problem+json"


async def count(env: SsoEnv, model: type, *where: ColumnElement[bool]) -> int:
    async with transaction(env.auth.database) as db:
        return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def credential(env: SsoEnv, email: str) -> Credential | None:
    async with transaction(env.auth.database) as db:
        return await db.scalar(select(Credential).where(Credential.email == email))


async def sign_in(
    client: httpx.AsyncClient, provider: str, login_hint: str, **params: str
) -> httpx.Response:
    authorization = await begin(client, provider, login_hint, **params)
    return await finish(client, provider, authorization.query)


async def mfa_user_at_main(env: SsoEnv) -> tuple[AuthUser, str]:
    """A local user with MFA on and an account of the same address at the main provider: the
    user and that account's subject."""
    local = await create_user(env.runtime)
    async with transaction(env.auth.database) as db:
        (await db.get(Credential, local.id)).mfa_enabled = True  # type: ignore[union-attr]
    return local, await add_account(env.providers.main, email=local.email)


def record_history(name: str, history: str) -> None:
    """A committed history for tests/platform/test_replay.py, and a tampered one it must reject."""
    (HISTORIES / f"{name}.json").write_text(history)
    (HISTORIES / f"{name}.broken.json").write_text(tamper(history))


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)


# --- accounts ---------------------------------------------------------------------------------


async def test_first_sign_in_creates_an_account_with_profile_and_session(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient, temporal: Client
) -> None:
    email = unique_email()
    sub = await add_account(sso_env.providers.main, email=email, name="Grace Hopper")

    authorization = await begin(sso_client, "main", sub, redirect_after="/welcome")
    response = await finish(sso_client, "main", authorization.query)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["outcome"] == "created" and body["redirect_after"] == "/welcome"
    account = await credential(sso_env, email)
    assert account is not None and str(account.id) == body["user_id"]
    assert account.password_hash is None and account.email_verified is True
    assert (
        await count(
            sso_env,
            SsoIdentity,
            SsoIdentity.issuer == sso_env.providers.main,
            SsoIdentity.subject == sub,
            SsoIdentity.user_id == account.id,
        )
        == 1
    )
    async with transaction(sso_env.user.database) as db:
        profile = await db.get(Profile, account.id)
    assert profile is not None and profile.display_name == "Grace Hopper"
    me = await sso_client.get(
        "/auth/me", headers={"authorization": f"Bearer {body['tokens']['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["auth_methods"] == ["sso"]
    assert me.json()["user_id"] == body["user_id"]

    handle = temporal.get_workflow_handle(sso_workflow_id(authorization.state))
    progress = await handle.query(PROGRESS_QUERY, result_type=Progress)
    assert (progress.step, progress.total, progress.state) == (4, 4, "completed")
    if os.environ.get("ADX_RECORD_HISTORIES") == "1":
        record_history(AuthWorkflow.SSO_AUTHENTICATION, (await handle.fetch_history()).to_json())


async def test_unverified_provider_email_makes_an_unverified_account(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    email = unique_email()
    sub = await add_account(sso_env.providers.main, email=email, email_verified=False, name=None)

    response = await sign_in(sso_client, "main", sub)

    assert response.status_code == 200, response.text
    account = await credential(sso_env, email)
    assert account is not None and account.email_verified is False
    async with transaction(sso_env.user.database) as db:
        profile = await db.get(Profile, account.id)
    assert profile is not None and profile.display_name == email.split("@")[0]


async def test_control_characters_in_the_provider_name_are_dropped(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    sub = await add_account(sso_env.providers.main, email=unique_email(), name="Ada\x00 Lovelace")

    response = await sign_in(sso_client, "main", sub)

    assert response.status_code == 200, response.text
    async with transaction(sso_env.user.database) as db:
        profile = await db.get(Profile, uuid.UUID(response.json()["user_id"]))
    assert profile is not None and profile.display_name == "Ada Lovelace"


async def test_returning_identity_gets_the_same_account(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    sub = await add_account(sso_env.providers.main, email=unique_email())

    first = await sign_in(sso_client, "main", sub)
    second = await sign_in(sso_client, "main", sub)

    assert first.status_code == second.status_code == 200, second.text
    assert second.json()["outcome"] == "returning"
    assert second.json()["user_id"] == first.json()["user_id"]
    user_id = uuid.UUID(first.json()["user_id"])
    assert await count(sso_env, SsoIdentity, SsoIdentity.user_id == user_id) == 1
    assert await count(sso_env, Session, Session.user_id == user_id) == 2


async def test_verified_email_links_to_the_existing_account_when_allowed(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    local = await create_user(sso_env.runtime)
    sub = await add_account(sso_env.providers.main, email=local.email.upper())

    response = await sign_in(sso_client, "main", sub)

    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "linked"
    assert response.json()["user_id"] == str(local.id)
    assert await count(sso_env, SsoIdentity, SsoIdentity.user_id == local.id) == 1
    # The password still works: linking adds a way in, it does not replace one.
    login = await sso_client.post(
        "/auth/login", json={"email": local.email, "password": local.password}
    )
    assert login.status_code == 200, login.text


@pytest.mark.parametrize(
    ("provider", "provider_verified", "local_verified", "reason"),
    [
        ("main", False, True, "did not verify"),
        ("strict", True, True, "may not be linked"),
        ("main", True, False, "is not verified"),
    ],
    ids=["provider-did-not-verify", "policy-forbids", "local-account-unverified"],
)
async def test_existing_email_is_never_merged_without_verification_and_policy(
    sso_env: SsoEnv,
    sso_client: httpx.AsyncClient,
    provider: str,
    provider_verified: bool,
    local_verified: bool,
    reason: str,
) -> None:
    local = await create_user(sso_env.runtime, verified=local_verified)
    sub = await add_account(
        sso_env.providers.main, email=local.email, email_verified=provider_verified
    )

    response = await sign_in(sso_client, provider, sub)

    assert_problem(response, 409)
    assert "already exists" in response.json()["detail"] and reason in response.json()["detail"]
    assert await count(sso_env, SsoIdentity, SsoIdentity.subject == sub) == 0
    assert await count(sso_env, Session, Session.user_id == local.id) == 0
    assert await count(sso_env, Credential, Credential.email == local.email) == 1
    assert (
        await count(
            sso_env,
            AuditEvent,
            AuditEvent.user_id == local.id,
            AuditEvent.event == "sso.link_refused",
        )
        == 1
    )


async def test_account_with_mfa_gets_only_a_partial_token(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    local, sub = await mfa_user_at_main(sso_env)

    response = await sign_in(sso_client, "main", sub)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mfa_required"] is True and body["tokens"] is None
    claims = await sso_env.runtime.verifier.decode(
        body["mfa_token"], audience=sso_env.runtime.issuer.mfa_audience
    )
    assert claims["typ"] == "mfa" and claims["sub"] == str(local.id)
    assert claims["amr"] == ["sso"], "MFA completion must record SSO as the first factor"
    assert await count(sso_env, Session, Session.user_id == local.id) == 0


async def test_provider_without_an_email_is_refused(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    sub = await add_account(sso_env.providers.main, email=None)

    response = await sign_in(sso_client, "main", sub)

    assert_problem(response, 403)
    assert await count(sso_env, SsoIdentity, SsoIdentity.subject == sub) == 0


async def test_failed_profile_rolls_the_new_account_back(sso_env: SsoEnv) -> None:
    @CREATE_PROFILE.implement
    async def refuse_profile(input: CreateProfileInput) -> CreateProfileOutput:
        raise business_error(UserError.INVALID_INPUT, "the profile store refuses")

    resources = sso_env.variant(task_queue_prefix=f"{sso_env.settings.task_queue_prefix}c")
    email = unique_email()
    sub = await add_account(sso_env.providers.main, email=email)
    async with (
        running(sso_workers(sso_env, resources, [refuse_profile])),
        client_on(resources) as client,
    ):
        authorization = await begin(client, "main", sub)
        response = await finish(client, "main", authorization.query)
        handle = resources.temporal.get_workflow_handle(sso_workflow_id(authorization.state))
        progress = await handle.query(PROGRESS_QUERY, result_type=Progress)
        if os.environ.get("ADX_RECORD_HISTORIES") == "1":
            record_history(
                f"{AuthWorkflow.SSO_AUTHENTICATION}_rolled_back",
                (await handle.fetch_history()).to_json(),
            )

    assert_problem(response, 503)
    assert progress.state == "failed"
    assert await credential(sso_env, email) is None, "compensation left the account behind"
    assert await count(sso_env, SsoIdentity, SsoIdentity.subject == sub) == 0


@acting_as(SecurityContext.anonymous())  # as the SSO sign-in workflow runs
@acting_as(SecurityContext.system("test"))
async def test_link_session_and_rollback_steps_are_idempotent(sso_env: SsoEnv) -> None:
    """Each step retried after it committed (a lost activity result) repeats nothing."""
    activities = SsoActivities(sso_env.runtime)
    run = f"wf-{uuid.uuid4().hex}"
    user_id = str(uuid.uuid4())
    link = LinkSsoIdentityInput(
        issuer="https://idp.example.com",
        subject=f"sub-{uuid.uuid4().hex}",
        email=unique_email(),
        email_verified=True,
        link_verified_email=True,
        new_user_id=user_id,
        idempotency_key=f"{run}:identity",
    )

    first, again = (
        await activities.link_sso_identity(link),
        await activities.link_sso_identity(link),
    )

    assert first == again and first.outcome == "created" and first.user_id == user_id
    assert await count(sso_env, SsoIdentity, SsoIdentity.subject == link.subject) == 1

    step = CreateSsoSessionInput(user_id, "10.9.8.7", "pytest", f"{run}:session")
    one, two = await activities.create_sso_session(step), await activities.create_sso_session(step)
    async with transaction(sso_env.auth.database) as db:
        revoked = (await db.get(Session, uuid.UUID(str(one.session_id)))).revoked_at  # type: ignore[union-attr]
        live = (await db.get(Session, uuid.UUID(str(two.session_id)))).revoked_at  # type: ignore[union-attr]
    assert revoked is not None and live is None

    other_key = DeleteSsoAccountInput(user_id, f"{run}:elsewhere")
    assert (await activities.delete_sso_account(other_key)).deleted is False
    undo = DeleteSsoAccountInput(user_id, link.idempotency_key)
    assert (await activities.delete_sso_account(undo)).deleted is True
    assert (await activities.delete_sso_account(undo)).deleted is False
    assert await count(sso_env, SsoIdentity, SsoIdentity.subject == link.subject) == 0


# --- attacks ----------------------------------------------------------------------------------


async def test_unknown_state_is_rejected(sso_client: httpx.AsyncClient) -> None:
    response = await finish(sso_client, "main", {"code": "x" * 43, "state": "s" * 43})
    assert_problem(response, 400)
    assert "state" in response.json()["detail"]


async def test_a_state_works_once(sso_env: SsoEnv, sso_client: httpx.AsyncClient) -> None:
    sub = await add_account(sso_env.providers.main, email=unique_email())
    authorization = await begin(sso_client, "main", sub)

    first = await finish(sso_client, "main", authorization.query)
    again = await finish(sso_client, "main", authorization.query)

    assert first.status_code == 200, first.text
    assert_problem(again, 400)
    user_id = uuid.UUID(first.json()["user_id"])
    assert await count(sso_env, Session, Session.user_id == user_id) == 1


async def test_double_callback_is_deduplicated_by_workflow_id(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    """Even with the state store bypassed, the same state cannot run the sign-in twice."""
    store = SsoStateStore(sso_env.auth.redis, sso_env.auth.redis_keys)
    sub = await add_account(sso_env.providers.main, email=unique_email())
    authorization = await begin(sso_client, "main", sub)
    pending = await store.take(authorization.state)
    assert pending is not None
    await store.put(authorization.state, pending)

    first = await finish(sso_client, "main", authorization.query)
    await store.put(authorization.state, pending)  # as if the state had never been spent
    again = await finish(sso_client, "main", authorization.query)

    assert first.status_code == 200, first.text
    assert_problem(again, 400)
    assert "already completed" in again.json()["detail"]


async def test_state_of_another_provider_is_rejected(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    sub = await add_account(sso_env.providers.main, email=unique_email())
    authorization = await begin(sso_client, "main", sub)

    response = await finish(sso_client, "strict", authorization.query)

    assert_problem(response, 400)
    assert "another provider" in response.json()["detail"]


async def test_callback_in_another_browser_is_rejected(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    """Login CSRF: a victim's browser opening the attacker's callback URL signs in no one."""
    email = unique_email()
    sub = await add_account(sso_env.providers.main, email=email)
    authorization = await begin(sso_client, "main", sub)

    async with client_on(sso_env.auth) as victim:
        response = await finish(victim, "main", authorization.query)

    assert_problem(response, 400)
    assert "another browser" in response.json()["detail"]
    assert await credential(sso_env, email) is None


async def test_response_from_another_issuer_is_rejected(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    sub = await add_account(sso_env.providers.main, email=unique_email())
    authorization = await begin(sso_client, "main", sub)
    assert authorization.query["iss"] == sso_env.providers.main

    for iss in (sso_env.providers.rogue, None):
        fresh = await begin(sso_client, "main", sub)
        query = {k: v for k, v in fresh.query.items() if k != "iss"}
        if iss is not None:
            query["iss"] = iss
        response = await finish(sso_client, "main", query)
        assert_problem(response, 400)


async def test_bad_nonce_is_rejected_and_writes_nothing(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    """The ID token carries the nonce of the authorization request; ours was swapped."""
    store = SsoStateStore(sso_env.auth.redis, sso_env.auth.redis_keys)
    email = unique_email()
    sub = await add_account(sso_env.providers.main, email=email)
    authorization = await begin(sso_client, "main", sub)
    pending = await store.take(authorization.state)
    assert pending is not None
    await store.put(authorization.state, pending.__class__(**{**vars(pending), "nonce": "other"}))

    response = await finish(sso_client, "main", authorization.query)

    assert_problem(response, 401)
    assert "nonce" in response.json()["detail"]
    assert await credential(sso_env, email) is None


async def test_replayed_code_is_refused_by_the_provider_and_writes_nothing(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    store = SsoStateStore(sso_env.auth.redis, sso_env.auth.redis_keys)
    sub = await add_account(sso_env.providers.main, email=unique_email())
    authorization = await begin(sso_client, "main", sub)
    pending = await store.take(authorization.state)
    assert pending is not None
    await store.put(authorization.state, pending)
    first = await finish(sso_client, "main", authorization.query)
    assert first.status_code == 200, first.text
    user_id = uuid.UUID(first.json()["user_id"])

    # The same code, verifier and nonce under a fresh state: only the provider can refuse it.
    replay_state = f"replay-{uuid.uuid4().hex}"
    await store.put(replay_state, pending)
    response = await finish(sso_client, "main", {**authorization.query, "state": replay_state})

    assert_problem(response, 401)
    assert "rejected the authorization code" in response.json()["detail"]
    assert await count(sso_env, Session, Session.user_id == user_id) == 1


async def test_id_token_signed_by_an_unpublished_key_is_rejected(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    email = unique_email()
    sub = await add_account(sso_env.providers.rogue, email=email)

    response = await sign_in(sso_client, "rogue", sub)

    assert_problem(response, 401)
    assert "key the provider does not publish" in response.json()["detail"]
    assert await credential(sso_env, email) is None


async def test_provider_error_response_is_a_clean_refusal(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    authorization = await begin(sso_client, "main", "no-such-account")
    assert authorization.query["error"] == "access_denied"

    response = await finish(sso_client, "main", authorization.query)
    again = await finish(sso_client, "main", authorization.query)

    assert_problem(response, 401)
    assert_problem(again, 400)  # the state was spent


# --- configuration ----------------------------------------------------------------------------


async def test_a_worker_refuses_to_start_on_a_bad_setting(sso_env: SsoEnv) -> None:
    resources = sso_env.variant(auth_sso_providers='[{"name": "x"}]')
    with pytest.raises(SsoConfigError, match="ADX_AUTH_SSO_PROVIDERS"):
        FEATURE.activities(resources)


async def test_the_http_app_refuses_to_start_on_a_bad_setting(sso_env: SsoEnv) -> None:
    from services.auth.service import create_auth_app
    from services.auth.sso.config import SsoConfigError

    resources = sso_env.variant(auth_sso_providers="[not json")
    with pytest.raises(SsoConfigError, match="ADX_AUTH_SSO_PROVIDERS"):
        create_auth_app(resources)


@pytest.mark.parametrize("problem", ["issuer-mismatch", "unreachable"])
async def test_a_provider_that_cannot_be_trusted_or_reached_is_a_503(
    sso_env: SsoEnv, problem: str
) -> None:
    issuer = (
        sso_env.providers.main + "/"  # discovery names the issuer without the slash
        if problem == "issuer-mismatch"
        else f"http://127.0.0.1:{free_port()}"
    )
    entry = {
        "name": "odd",
        "issuer": issuer,
        "client_id": CLIENT_ID,
        "client_secret": "x",
        "redirect_uri": "http://auth/auth/sso/odd/callback",
    }
    resources = sso_env.variant(auth_sso_providers=json.dumps([entry]))
    async with client_on(resources) as client:
        response = await client.get("/auth/sso/odd/start")
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "params", "status"),
    [
        ("GET", "/auth/sso/nope/start", {}, 404),
        ("GET", "/auth/sso/Bad%20Name/start", {}, 422),
        ("GET", f"/auth/sso/{'a' * 41}/start", {}, 422),
        ("GET", "/auth/sso/main/start", {"redirect_after": "https://evil.example/"}, 422),
        ("GET", "/auth/sso/main/start", {"redirect_after": "//evil.example/"}, 422),
        ("GET", "/auth/sso/main/start", {"redirect_after": "/\\evil.example"}, 422),
        ("GET", "/auth/sso/main/start", {"redirect_after": "/" + "a" * 600}, 422),
        ("GET", "/auth/sso/main/start", {"login_hint": "x" * 400}, 422),
        ("GET", "/auth/sso/main/start", {"login_hint": ""}, 422),
        ("POST", "/auth/sso/main/start", {}, 405),
        ("GET", "/auth/sso/nope/callback", {"state": "s" * 43, "code": "c"}, 404),
        ("GET", "/auth/sso/main/callback", {}, 422),
        ("GET", "/auth/sso/main/callback", {"code": "c"}, 422),
        ("GET", "/auth/sso/main/callback", {"state": "short", "code": "c"}, 422),
        ("GET", "/auth/sso/main/callback", {"state": "s" * 201, "code": "c"}, 422),
        ("GET", "/auth/sso/main/callback", {"state": "s" * 43, "code": "c" * 5000}, 422),
        ("GET", "/auth/sso/main/callback", {"state": "s" * 43, "code": ""}, 422),
        ("GET", "/auth/sso/main/callback", {"state": "s" * 43, "error": "e" * 500}, 422),
        ("GET", "/auth/sso/main/callback", {"state": "s" * 21 + "\x00" * 22, "code": "c"}, 400),
        ("GET", "/auth/sso/main/start", {"redirect_after": "/a\x00b"}, 422),
        ("POST", "/auth/sso/main/callback", {"state": "s" * 43, "code": "c"}, 405),
    ],
)
async def test_bad_input_is_a_4xx_problem(
    sso_client: httpx.AsyncClient, method: str, path: str, params: dict[str, str], status: int
) -> None:
    response = await sso_client.request(method, path, params=params)
    assert_problem(response, status)


async def test_callback_without_a_code_spends_the_state(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    sub = await add_account(sso_env.providers.main, email=unique_email())
    authorization = await begin(sso_client, "main", sub)
    query = {k: v for k, v in authorization.query.items() if k != "code"}

    assert_problem(await finish(sso_client, "main", query), 422)
    assert_problem(await finish(sso_client, "main", authorization.query), 400)


async def test_redirect_after_on_the_public_origin_is_kept(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    target = f"{sso_env.settings.public_url}/app?tab=1"
    sub = await add_account(sso_env.providers.main, email=unique_email())

    response = await sign_in(sso_client, "main", sub, redirect_after=target)

    assert response.status_code == 200, response.text
    assert response.json()["redirect_after"] == target


async def test_providers_are_listed_without_secrets(sso_client: httpx.AsyncClient) -> None:
    response = await sso_client.get("/auth/sso/providers")
    assert response.status_code == 200
    assert response.json() == [{"name": "main"}, {"name": "strict"}, {"name": "rogue"}]


async def test_start_sets_an_http_only_binding_cookie(sso_client: httpx.AsyncClient) -> None:
    response = await sso_client.get("/auth/sso/main/start")
    assert response.status_code == 302
    cookie = response.headers["set-cookie"]
    assert (
        "adx_sso_binding=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    )
    location = httpx.URL(response.headers["location"])
    assert location.params["code_challenge_method"] == "S256"
    assert location.params["response_type"] == "code"
    assert location.params["nonce"] and location.params["code_challenge"]


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


# --- no SSO secret in the history (docs/auth.md: secrets never enter payloads) ---------


async def pending_grant(env: SsoEnv, state: str) -> dict[str, str]:
    """The nonce and PKCE verifier ``start`` keeps for ``state`` (read, not spent)."""
    key = SsoStateStore(env.auth.redis, env.auth.redis_keys)._key(state)
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
    me = await sso_client.get("/auth/me", headers=_bearer(tokens["access_token"]))
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
    await record_run_history(handle, "sso_authentication.v2")


async def test_sso_partial_token_never_enters_the_history(
    sso_env: SsoEnv, sso_client: httpx.AsyncClient
) -> None:
    _, sub = await mfa_user_at_main(sso_env)
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
    @CREATE_PROFILE.implement
    async def refuse_profile(input: CreateProfileInput) -> CreateProfileOutput:
        raise business_error(UserError.INVALID_INPUT, "the profile store refuses")

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
        await record_run_history(handle, "sso_authentication.v2-rolled-back")

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
    me = await sso_client.get("/auth/me", headers=_bearer(session.access_token))
    assert me.status_code == 200 and me.json()["user_id"] == result.user_id
    # And a result recorded before sealing (tokens in clear) passes the route unchanged.
    assert open_session(settings, result.user_id, session) == session
