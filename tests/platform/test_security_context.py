"""The workflow security context on the real dev server: sealed in its header, carried to every
activity (and through continue-as-new, local activities and children), checked by activities,
and set by the gateway and the auth API from who is calling. Every test here tries to break it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer

from services.auth.accounts.activities import AccountActivities
from services.auth.passwords import hash_password
from services.auth.principal.activities import PrincipalActivities
from services.auth.runtime import AuthRuntime
from services.auth.sso.activities import SsoActivities
from services.common.codec import ENCODING, EncryptionCodec, PayloadKeys, data_converter
from services.common.resources import Resources
from services.common.security_context import (
    HEADER_KEY,
    SECURITY_CONTEXT_DENIED,
    ActorKind,
    InvalidSecurityContextError,
    SecurityContext,
    acting_as,
    seal,
    unseal,
)
from services.common.security_interceptor import SecurityContextInterceptor
from services.common.settings import ServiceName, Settings
from storage.auth.audit import AuditRepository
from storage.auth.models import AuditEvent, Credential, Session, SsoIdentity, TotpSecret
from storage.auth.one_time_tokens import OneTimeTokenRepository
from storage.db import transaction
from tests.auth.mail_flows import link_token, plain_text, wait_for_outbox
from tests.auth.users import AuthUser, create_user
from tests.graphql_client import gql
from tests.in_process import in_process_auth_api
from tests.platform.security_workflows import ParentWorkflow
from tests.support import Infra, Stack
from workflows.auth.contracts import AuthWorkflow, SetPasswordInput, TokenPurpose
from workflows.auth.mfa_setup import (
    MfaSetupInput,
    MfaSetupResult,
    MfaSetupWorkflow,
    mfa_setup_workflow_id,
)
from workflows.auth.principal_contracts import SyncPrincipalClaimsInput
from workflows.auth.sso_contracts import CreateSsoSessionInput

SIGN_UP = """mutation($input: SignUpInput!) { signUp(input: $input) { id } }"""


@pytest.fixture
async def auth_api(
    auth_resources: Resources, in_process_workers: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The auth API in-process, starting workflows on the in-process workers' queues."""
    async with in_process_auth_api(auth_resources, in_process_workers) as http:
        yield http


async def sign_in(api: httpx.AsyncClient, user: AuthUser) -> str:
    response = await api.post("/auth/login", json={"email": user.email, "password": user.password})
    assert response.status_code == 200, response.text
    return str(response.json()["tokens"]["access_token"])


async def audit_rows(runtime: AuthRuntime, user_id: uuid.UUID) -> list[AuditEvent]:
    async with transaction(runtime.resources.database) as db:
        return await AuditRepository(db).for_user(user_id)


async def totp_secret(runtime: AuthRuntime, user_id: uuid.UUID) -> TotpSecret | None:
    async with transaction(runtime.resources.database) as db:
        return await db.get(TotpSecret, user_id)


# --- the sealed header ----------------------------------------------------------------------


async def test_the_header_is_sealed_and_anything_else_is_refused(settings: Settings) -> None:
    converter = data_converter(settings)
    context = SecurityContext.for_user(
        str(uuid.uuid4()), tenant_id=str(uuid.uuid4()), roles=["member"], session_id="s"
    )
    sealed = await seal(context, converter, workflow_id="wf-1")
    plain = converter.payload_converter.to_payload(context.to_dict())
    tampered = Payload(
        metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    )
    stranger = EncryptionCodec(PayloadKeys.parse([{"kid": "test-1", "key": "A" * 43 + "="}]))
    forged = (await stranger.encode([plain]))[0]  # right key id, wrong key
    not_a_user = (
        await converter.payload_codec.encode(  # type: ignore[union-attr]
            [converter.payload_converter.to_payload({"actor": "user", "roles": []})]
        )
    )[0]

    assert sealed.metadata["encoding"] == ENCODING
    assert context.user_id is not None and context.user_id.encode() not in sealed.data
    opened = await unseal(sealed, converter)
    assert (opened.context, opened.workflow_id) == (context, "wf-1")
    unbound = (await converter.payload_codec.encode([plain]))[0]  # type: ignore[union-attr]
    for bad in (plain, tampered, forged, not_a_user, unbound):
        with pytest.raises(InvalidSecurityContextError):
            await unseal(bad, converter)


# --- starting mfa_setup without being the user ----------------------------------------------


class _PlaintextHeader(Interceptor):
    """What someone without the payload key can send: a readable context claiming ``system``."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _PlaintextOutbound(next)


class _PlaintextOutbound(OutboundInterceptor):
    async def start_workflow(self, input: StartWorkflowInput) -> Any:
        context = SecurityContext.system("forged").to_dict()
        payload = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(context).encode())
        input.headers = {**input.headers, HEADER_KEY: payload}
        return await super().start_workflow(input)


async def bare_client(settings: Settings, *interceptors: Interceptor) -> Client:
    """A Temporal client with our payload codec but none of our interceptors."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        interceptors=list(interceptors),
    )


@pytest.mark.parametrize("starter", ["another user", "anonymous", "no header", "forged header"])
async def test_mfa_setup_for_someone_else_fails_for_good_and_writes_nothing(
    starter: str,
    settings: Settings,
    temporal: Client,
    in_process_workers: str,
    auth_runtime: AuthRuntime,
) -> None:
    victim = await create_user(auth_runtime)
    client, context = temporal, None
    if starter == "another user":
        context = SecurityContext.for_user(str((await create_user(auth_runtime)).id))
    elif starter == "no header":
        client = await bare_client(settings)
    elif starter == "forged header":
        client = await bare_client(settings, _PlaintextHeader())

    with acting_as(context):
        handle = await client.start_workflow(
            AuthWorkflow.MFA_SETUP,
            MfaSetupInput(user_id=str(victim.id)),
            id=mfa_setup_workflow_id(str(victim.id)),
            task_queue=f"{in_process_workers}-auth",
            result_type=MfaSetupResult,
        )
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == SECURITY_CONTEXT_DENIED
    events = (await handle.fetch_history()).events
    (attempt,) = [
        e.activity_task_started_event_attributes.attempt
        for e in events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert attempt == 1, "a refusal must not be retried"
    (reason,) = [
        e.activity_task_failed_event_attributes.failure
        for e in events
        if e.HasField("activity_task_failed_event_attributes")
    ]
    assert reason.application_failure_info.non_retryable
    expected = {
        "another user": "the user context may not act for this user",
        "anonymous": "the anonymous context may not act for this user",
        "no header": "no security context",
        "forged header": "not sealed",
    }[starter]
    assert expected in reason.message
    assert await totp_secret(auth_runtime, victim.id) is None
    assert await audit_rows(auth_runtime, victim.id) == []


# --- the caller's context reaches the activity ------------------------------------------------


async def test_the_callers_context_reaches_the_activity_sealed_in_history(
    auth_api: httpx.AsyncClient, temporal: Client, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    token = await sign_in(auth_api, user)
    request_id = f"req-{uuid.uuid4().hex}"

    started = await auth_api.post(
        "/auth/mfa/setup",
        headers={"authorization": f"Bearer {token}", "x-request-id": request_id},
    )

    assert started.status_code == 200, started.text
    (event,) = [
        e for e in await audit_rows(auth_runtime, user.id) if e.event == "mfa.setup_started"
    ]
    assert event.detail["actor"] == "user"
    assert event.detail["actor_user_id"] == str(user.id)
    assert event.detail["origin_request_id"] == request_id
    assert uuid.UUID(event.detail["actor_session_id"])

    handle: WorkflowHandle[Any, Any] = temporal.get_workflow_handle(started.json()["workflow_id"])
    history = await handle.fetch_history()
    start = history.events[0].workflow_execution_started_event_attributes
    header = start.header.fields[HEADER_KEY]
    assert header.metadata["encoding"] == ENCODING
    assert str(user.id).encode() not in header.data and request_id.encode() not in header.data
    scheduled = [
        e.activity_task_scheduled_event_attributes.header.fields[HEADER_KEY]
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled and all(h == header for h in scheduled), "activities carry the run's header"
    # A history with the header replays, with and without the interceptor.
    for interceptors in ([], [SecurityContextInterceptor(temporal.data_converter)]):
        await Replayer(
            workflows=[MfaSetupWorkflow],
            data_converter=temporal.data_converter,
            interceptors=interceptors,
        ).replay_workflow(history)
    await handle.terminate("test over")


async def test_the_context_survives_continue_as_new_local_activities_and_children(
    temporal: Client, whoami_queue: str
) -> None:
    queue = whoami_queue
    caller = SecurityContext.for_user(
        str(uuid.uuid4()), tenant_id=str(uuid.uuid4()), roles=["admin"], request_id="r-1"
    )
    with acting_as(caller):
        seen = await temporal.execute_workflow(ParentWorkflow.run, 2, id=queue, task_queue=queue)
    unclaimed = await temporal.execute_workflow(
        ParentWorkflow.run, 0, id=f"{queue}-anonymous", task_queue=queue
    )

    log = {"actor": "user", "actor_user_id": caller.user_id, "actor_tenant_id": caller.tenant_id}
    expected = {**caller.to_dict(), "log": {**log, "origin_request_id": "r-1"}}
    assert seen == {key: expected for key in ("activity", "local_activity", "child")}
    assert {v["actor"] for v in unclaimed.values()} == {ActorKind.anonymous.value}


# --- the checks -------------------------------------------------------------------------------


async def spent_reset_token(
    runtime: AuthRuntime, user_id: uuid.UUID, workflow_id: str, run_id: str
) -> None:
    """A reset token of ``user_id`` issued (its key) and spent by the run ``run_id``."""
    async with transaction(runtime.resources.database) as db:
        tokens = OneTimeTokenRepository(db)
        digest = uuid.uuid4().hex * 2
        await tokens.issue(
            user_id=user_id,
            purpose=TokenPurpose.password_reset,
            token_hash=digest,
            ttl=timedelta(minutes=5),
            workflow_id=workflow_id,
            idempotency_key=f"{workflow_id}:{run_id}:token",
        )
        assert await tokens.consume(digest, TokenPurpose.password_reset, workflow_id) == user_id


async def password_hash(runtime: AuthRuntime, user_id: uuid.UUID) -> str:
    async with transaction(runtime.resources.database) as db:
        return str(
            await db.scalar(select(Credential.password_hash).where(Credential.id == user_id))
        )


async def test_a_password_changes_only_for_the_user_system_or_a_redeemed_link(
    auth_runtime: AuthRuntime,
) -> None:
    user = await create_user(auth_runtime)
    before = await password_hash(auth_runtime, user.id)
    env = ActivityEnvironment()
    workflow_id = f"password-reset-{uuid.uuid4().hex}"
    run_id = "the-resetting-run"
    env.info = dataclasses.replace(env.info, workflow_id=workflow_id, workflow_run_id=run_id)
    activities = AccountActivities(auth_runtime)

    async def set_password(context: SecurityContext | None) -> None:
        new_hash = await hash_password(f"new password {uuid.uuid4()}")
        request = SetPasswordInput(str(user.id), new_hash, "password_reset", str(uuid.uuid4()))
        with acting_as(context):
            await env.run(activities.set_password, request)

    for refused in (None, SecurityContext.anonymous(), SecurityContext.for_user(str(uuid.uuid4()))):
        with pytest.raises(ApplicationError) as error:
            await set_password(refused)
        assert error.value.type == SECURITY_CONTEXT_DENIED and error.value.non_retryable
    assert await password_hash(auth_runtime, user.id) == before, "a refused call wrote"

    # Another workflow's redeemed link proves nothing for this one, nor does the link an
    # earlier run with the same workflow id redeemed.
    await spent_reset_token(auth_runtime, user.id, "some-other-workflow", run_id)
    await spent_reset_token(auth_runtime, user.id, workflow_id, "an-earlier-run")
    with pytest.raises(ApplicationError):
        await set_password(SecurityContext.anonymous())
    await spent_reset_token(auth_runtime, user.id, workflow_id, run_id)
    await set_password(SecurityContext.anonymous())
    await set_password(SecurityContext.for_user(str(user.id).upper()))
    await set_password(SecurityContext.system("test"))
    assert await password_hash(auth_runtime, user.id) != before


async def test_tenant_claims_change_only_for_system_or_an_admin_of_that_tenant(
    auth_runtime: AuthRuntime,
) -> None:
    member, tenant, other = await create_user(auth_runtime), str(uuid.uuid4()), str(uuid.uuid4())
    sync = PrincipalActivities(auth_runtime).sync_principal_claims
    request = SyncPrincipalClaimsInput(str(member.id), tenant, ["admin"])
    admin = str(uuid.uuid4())
    refused = [
        None,
        SecurityContext.anonymous(),
        SecurityContext.for_user(admin, tenant_id=tenant, roles=["member"]),
        SecurityContext.for_user(admin, tenant_id=other, roles=["admin"]),
        SecurityContext.for_user(str(member.id), tenant_id=tenant, roles=["member"]),
    ]

    for context in refused:
        with acting_as(context), pytest.raises(ApplicationError) as error:
            await ActivityEnvironment().run(sync, request)
        assert error.value.type == SECURITY_CONTEXT_DENIED, context
    assert not [e for e in await audit_rows(auth_runtime, member.id) if e.event == "claims.synced"]

    with acting_as(SecurityContext.for_user(admin, tenant_id=tenant, roles=["owner"])):
        assert (await ActivityEnvironment().run(sync, request)).member
    with acting_as(SecurityContext.system("test")):
        assert (await ActivityEnvironment().run(sync, request)).member
    latest, *_ = [
        e for e in await audit_rows(auth_runtime, member.id) if e.event == "claims.synced"
    ]
    assert latest.detail["actor"] == "system"


async def sessions_of(runtime: AuthRuntime, user_id: uuid.UUID) -> int:
    async with transaction(runtime.resources.database) as db:
        return len(list(await db.scalars(select(Session.id).where(Session.user_id == user_id))))


async def test_an_anonymous_sso_step_opens_sessions_only_for_the_account_its_run_linked(
    auth_runtime: AuthRuntime,
) -> None:
    password_only, sso_user = await create_user(auth_runtime), await create_user(auth_runtime)
    async with transaction(auth_runtime.resources.database) as db:
        db.add(SsoIdentity(issuer="https://idp", subject=uuid.uuid4().hex, user_id=sso_user.id))
    open_session = SsoActivities(auth_runtime).create_sso_session
    sso_run = ActivityEnvironment()
    sso_run.info = dataclasses.replace(sso_run.info, workflow_type="sso_authentication")

    def step(user: AuthUser) -> CreateSsoSessionInput:
        return CreateSsoSessionInput(str(user.id), "10.0.0.1", "test", f"test:{uuid.uuid4()}")

    # An SSO account this run did not link is as closed as a password-only one.
    for env, user in [
        (sso_run, password_only),
        (sso_run, sso_user),
        (ActivityEnvironment(), sso_user),
    ]:
        with acting_as(SecurityContext.anonymous()), pytest.raises(ApplicationError) as error:
            await env.run(open_session, step(user))
        assert error.value.type == SECURITY_CONTEXT_DENIED and error.value.non_retryable
    assert await sessions_of(auth_runtime, password_only.id) == 0
    assert await sessions_of(auth_runtime, sso_user.id) == 0

    # The user themself may (the anonymous sign-in that links: tests/auth/sso/test_sso.py).
    with acting_as(SecurityContext.for_user(str(password_only.id))):
        assert (await ActivityEnvironment().run(open_session, step(password_only))).access_token


# --- the gateway sets the context -------------------------------------------------------------


async def issued_token_audit(
    runtime: AuthRuntime, email: str, stack: Stack, infra: Infra
) -> Mapping[str, Any]:
    """The audit row the sign-up's workflow wrote with the new account. Every sign-up is its
    own run and creates the account only when its mailed link is redeemed (issue 6), so the
    link is clicked first; the row is written by the run's activity, in the run's context."""
    mail = (await wait_for_outbox(infra.settings(), email))[-1]
    async with httpx.AsyncClient(timeout=30) as http:
        clicked = await http.post(
            stack.url(ServiceName.auth, "/auth/verify-email"),
            json={"token": link_token(plain_text(mail), "/verify-email")},
        )
    assert clicked.status_code == 200, clicked.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        async with transaction(runtime.resources.database) as db:
            user_id = await db.scalar(select(Credential.id).where(Credential.email == email))
        if user_id is not None:
            rows = [e for e in await audit_rows(runtime, user_id) if e.event == "email.verified"]
            if rows:
                return rows[0].detail
        await asyncio.sleep(0.1)
    raise AssertionError(f"no account was created for {email}")


async def test_sign_up_through_the_gateway_acts_as_the_caller(
    stack: Stack, infra: Infra, auth_runtime: AuthRuntime
) -> None:
    caller = await create_user(auth_runtime)
    async with httpx.AsyncClient(timeout=30) as http:
        login = await http.post(
            stack.url(ServiceName.auth, "/auth/login"),
            json={"email": caller.email, "password": caller.password},
        )
        assert login.status_code == 200, login.text
        token = login.json()["tokens"]["access_token"]
        signed_in, anonymous = (f"gw-{uuid.uuid4().hex[:10]}@example.com" for _ in range(2))
        request_id = f"req-{uuid.uuid4().hex}"
        variables = {"password": "a long enough password", "displayName": "Gateway"}
        response = await http.post(
            stack.graphql,
            json={"query": SIGN_UP, "variables": {"input": {"email": signed_in, **variables}}},
            headers={"authorization": f"Bearer {token}", "x-request-id": request_id},
        )
        assert response.status_code == 200 and "errors" not in response.json(), response.text
    unclaimed = await gql(stack.graphql, SIGN_UP, {"input": {"email": anonymous, **variables}})
    assert "errors" not in unclaimed, unclaimed

    as_caller = await issued_token_audit(auth_runtime, signed_in, stack, infra)
    as_nobody = await issued_token_audit(auth_runtime, anonymous, stack, infra)

    assert as_caller["actor"] == "user" and as_caller["actor_user_id"] == str(caller.id)
    assert as_caller["origin_request_id"] == request_id
    assert as_nobody["actor"] == "anonymous" and "actor_user_id" not in as_nobody
