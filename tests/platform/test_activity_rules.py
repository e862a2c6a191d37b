"""Who may run the activities of the anonymous flows (sign-up, password reset, SSO), tried on the
real dev server: a rogue workflow, started through our client as whatever workflow type it
pretends to be, asks the real activities for what a buggy or hostile workflow could ask; every
rule must refuse (``SecurityContextDenied``) and leave nothing behind. Also: a sealed header
copied out of one history works for no other workflow and no later start.
Rules: docs/security-context.md."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    WorkflowFailureError,
)
from temporalio.exceptions import ActivityError, ApplicationError

from services.auth.accounts.activities import AccountActivities
from services.auth.one_time_tokens import link_token_purpose
from services.auth.opaque import hash_token
from services.auth.password_reset.activities import PasswordResetActivities
from services.auth.registration.activities import RegistrationActivities
from services.auth.runtime import AuthRuntime
from services.auth.sso.activities import SsoActivities
from services.common.codec import data_converter
from services.common.resources import Resources
from services.common.sealing import sealer_for
from services.common.security_context import (
    HEADER_KEY,
    SECURITY_CONTEXT_DENIED,
    SecurityContext,
    acting_as,
    seal,
)
from services.common.security_interceptor import RootRun, RootRuns
from services.common.settings import Settings
from services.common.temporal import build_worker
from services.user.activities import UserActivities
from storage.auth.models import Credential, OneTimeToken, Session, SsoIdentity
from storage.db import transaction
from storage.users.models import Profile
from tests.auth.users import create_user
from tests.platform.security_workflows import (
    LAST_TOKEN,
    ROGUE_RUN,
    ROGUE_WORKFLOW,
    Outcome,
    ParentWorkflow,
    RogueWorkflow,
    Step,
)
from workflows.auth.contracts import (
    CONSUME_ONE_TIME_TOKEN,
    CREATE_CREDENTIALS,
    DELETE_CREDENTIALS,
    FIND_ACCOUNT,
    ISSUE_ONE_TIME_TOKEN,
    MAIL_RESET_LINK,
    SEND_EMAIL,
    MailTemplate,
    TokenPurpose,
)
from workflows.auth.sso_contracts import (
    CREATE_SSO_SESSION,
    DELETE_SSO_ACCOUNT,
    LINK_SSO_IDENTITY,
    SSO_EXCHANGE_CODE,
)
from workflows.auth.user_registration import registration_workflow_id
from workflows.user.contracts import CREATE_PROFILE, DELETE_PROFILE

REGISTRATION, RESET, SSO, MFA = (
    "user_registration",
    "password_reset",
    "sso_authentication",
    "mfa_setup",
)
PASSWORD = "a long enough password"

Rogue = Callable[..., Awaitable[list[Outcome]]]


@pytest.fixture
async def rogue(
    temporal: Client, settings: Settings, auth_runtime: AuthRuntime, user_resources: Resources
) -> AsyncIterator[Rogue]:
    """Run steps in a rogue workflow of the given type, on a worker hosting the real auth, SSO
    and user activities; returns one outcome per step."""
    queue = f"rogue-{uuid.uuid4().hex[:8]}"
    activities = [
        *AccountActivities(auth_runtime).all(),
        *RegistrationActivities(auth_runtime).all(),
        *PasswordResetActivities(auth_runtime).all(),
        *SsoActivities(auth_runtime).all(),
        *UserActivities(user_resources).all(),
    ]
    worker = build_worker(
        temporal, settings, task_queue=queue, workflows=[RogueWorkflow], activities=activities
    )

    async def run(
        workflow_type: str,
        *steps: Step,
        context: SecurityContext | None = None,
        workflow_id: str | None = None,
    ) -> list[Outcome]:
        with acting_as(context or SecurityContext.anonymous()):
            return await temporal.execute_workflow(
                workflow_type,
                [dataclasses.asdict(step) for step in steps],
                id=workflow_id or f"{queue}-{uuid.uuid4().hex[:8]}",
                task_queue=queue,
                result_type=list[Outcome],
            )

    async with worker:
        yield run


def refused(outcome: Outcome, reason: str = "") -> bool:
    return outcome.error_type == SECURITY_CONTEXT_DENIED and reason in (outcome.message or "")


def credentials(email: str, key: str = f"{ROGUE_RUN}:credentials") -> Step:
    user_id = str(uuid.uuid4())
    data = {"user_id": user_id, "email": email, "password": PASSWORD, "idempotency_key": key}
    return Step(CREATE_CREDENTIALS.name, data)


def delete_credentials(user_id: str) -> Step:
    return Step(
        DELETE_CREDENTIALS.name, {"user_id": user_id, "idempotency_key": f"{ROGUE_RUN}:undo"}
    )


def issue(user_id: str, purpose: str, *, workflow_id: str | None = None, key: str = "") -> Step:
    return Step(
        ISSUE_ONE_TIME_TOKEN.name,
        {
            "user_id": user_id,
            "purpose": purpose,
            "ttl_seconds": 600,
            "workflow_id": workflow_id or ROGUE_WORKFLOW,
            "idempotency_key": key or f"{ROGUE_RUN}:token",
        },
    )


def mail(to: str, template: str, token: str | None) -> Step:
    data = {"to": to, "template": template, "token": token, "idempotency_key": f"k-{uuid.uuid4()}"}
    return Step(SEND_EMAIL.name, data)


def reset_link(user_id: str, to: str, key: str = f"{ROGUE_RUN}:link") -> Step:
    data = {"user_id": user_id, "to": to, "ttl_seconds": 600, "idempotency_key": key}
    return Step(MAIL_RESET_LINK.name, data)


async def credential(runtime: AuthRuntime, email: str) -> Credential | None:
    async with transaction(runtime.resources.database) as db:
        return await db.scalar(select(Credential).where(Credential.email == email))


def unique_email() -> str:
    return f"r-{uuid.uuid4().hex[:12]}@example.com"


# --- sign-up: create and undo credentials, profiles ------------------------------------------


async def test_credentials_are_created_only_by_a_registration_run_under_its_own_key(
    rogue: Rogue, auth_runtime: AuthRuntime
) -> None:
    wrong_flow, foreign_key, own = unique_email(), unique_email(), unique_email()

    (as_reset,) = await rogue(RESET, credentials(wrong_flow))
    (borrowed,) = await rogue(REGISTRATION, credentials(foreign_key, key="elsewhere:1:credentials"))
    (created,) = await rogue(REGISTRATION, credentials(own))

    assert refused(as_reset, "only ['user_registration']")
    assert refused(borrowed, "does not belong to this workflow run")
    assert await credential(auth_runtime, wrong_flow) is None
    assert await credential(auth_runtime, foreign_key) is None
    assert created.result["created"] and await credential(auth_runtime, own) is not None


async def test_only_the_run_that_created_an_unverified_account_may_delete_it(
    rogue: Rogue, auth_runtime: AuthRuntime
) -> None:
    squatted = await create_user(auth_runtime, verified=False)  # made by someone else
    own = unique_email()
    step = credentials(own)

    (foreign,) = await rogue(REGISTRATION, delete_credentials(str(squatted.id)))
    created, deleted = await rogue(REGISTRATION, step, delete_credentials(step.input["user_id"]))

    assert refused(foreign, "only undo an account this run created")
    assert await credential(auth_runtime, squatted.email) is not None
    assert created.result["created"] and deleted.result == {"deleted": True}
    assert await credential(auth_runtime, own) is None


async def test_find_account_answers_only_the_password_reset_flow(
    rogue: Rogue, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    find = Step(FIND_ACCOUNT.name, {"email": user.email})

    (as_registration,) = await rogue(REGISTRATION, find)
    (as_reset,) = await rogue(RESET, find)

    assert refused(as_registration) and as_registration.result is None
    assert as_reset.result == {"user_id": str(user.id)}


async def test_profiles_are_created_and_undone_only_by_the_sign_up_run(
    rogue: Rogue, user_resources: Resources
) -> None:
    def create(user_id: str, key: str = f"{ROGUE_RUN}:profile") -> Step:
        data = {"user_id": user_id, "email": unique_email(), "display_name": "R"}
        return Step(CREATE_PROFILE.name, {**data, "idempotency_key": key})

    def delete(user_id: str) -> Step:
        return Step(DELETE_PROFILE.name, {"user_id": user_id, "idempotency_key": "k"})

    theirs, mine, stray = (str(uuid.uuid4()) for _ in range(3))
    (made,) = await rogue(REGISTRATION, create(theirs))
    (as_mfa,) = await rogue(MFA, create(stray))
    (borrowed,) = await rogue(SSO, create(stray, key="elsewhere:1:profile"))
    (foreign,) = await rogue(REGISTRATION, delete(theirs))
    own_made, own_deleted = await rogue(SSO, create(mine), delete(mine))

    assert made.result["created"]
    assert refused(as_mfa) and refused(borrowed) and refused(foreign)
    async with transaction(user_resources.database) as db:
        ids = set(await db.scalars(select(Profile.id).where(Profile.id.in_([theirs, mine, stray]))))
    assert ids == {uuid.UUID(theirs)}, "a refused step wrote, or the run's own undo did not"
    assert own_made.result["created"] and own_deleted.result == {"deleted": True}


# --- one-time tokens and the mails that carry them -------------------------------------------


async def test_tokens_are_issued_only_for_the_flow_and_the_run_that_need_them(
    rogue: Rogue, auth_runtime: AuthRuntime
) -> None:
    victim = await create_user(auth_runtime)
    victim_id = str(victim.id)

    (verify_for_someone,) = await rogue(REGISTRATION, issue(victim_id, TokenPurpose.verify_email))
    (reset_from_sign_up,) = await rogue(REGISTRATION, issue(victim_id, TokenPurpose.password_reset))
    (for_another_run,) = await rogue(
        RESET, issue(victim_id, TokenPurpose.password_reset, workflow_id="another-workflow")
    )
    (foreign_key,) = await rogue(
        RESET, issue(victim_id, TokenPurpose.password_reset, key="elsewhere:1:token")
    )
    reset_run = f"{RESET}-{uuid.uuid4().hex[:8]}"
    (reset,) = await rogue(
        RESET, issue(victim_id, TokenPurpose.password_reset), workflow_id=reset_run
    )

    assert refused(verify_for_someone, "only for the account this run created")
    assert refused(reset_from_sign_up, "only ['password_reset']")
    assert refused(for_another_run, "only for itself")
    assert refused(foreign_key, "does not belong to this workflow run")
    async with transaction(auth_runtime.resources.database) as db:
        tokens = list(
            await db.scalars(select(OneTimeToken).where(OneTimeToken.user_id == victim.id))
        )
    assert len(tokens) == 1 and tokens[0].purpose == TokenPurpose.password_reset
    # The token leaves the activity sealed for this run's reset mail; opened, it is the one stored.
    bound = link_token_purpose(TokenPurpose.password_reset, reset_run)
    raw = sealer_for(auth_runtime.settings).unseal(reset.result["token"], bound)
    assert reset.result["token"] and hash_token(raw) == tokens[0].token_hash


async def test_a_run_spends_only_its_own_tokens_not_an_earlier_runs(
    rogue: Rogue, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    workflow_id = f"password-reset-{uuid.uuid4().hex}"
    earlier_token = uuid.uuid4().hex * 2
    async with transaction(auth_runtime.resources.database) as db:
        db.add(  # issued by an earlier run with the same workflow id, still valid
            OneTimeToken(
                user_id=user.id,
                purpose=TokenPurpose.password_reset,
                token_hash=earlier_token,
                expires_at=datetime.now(UTC) + timedelta(minutes=10),
                workflow_id=workflow_id,
                idempotency_key=f"{workflow_id}:an-earlier-run:token",
            )
        )

    def consume(workflow: str) -> Step:
        data = {"token_hash": earlier_token, "purpose": TokenPurpose.password_reset}
        return Step(CONSUME_ONE_TIME_TOKEN.name, {**data, "workflow_id": workflow})

    (someone_elses,) = await rogue(RESET, consume(workflow_id))  # another workflow id
    (same_id_later,) = await rogue(RESET, consume(workflow_id), workflow_id=workflow_id)

    assert refused(someone_elses, "spends only its own tokens")
    assert same_id_later.result == {"user_id": None}
    async with transaction(auth_runtime.resources.database) as db:
        token = await db.scalar(
            select(OneTimeToken).where(OneTimeToken.token_hash == earlier_token)
        )
    assert token is not None and token.used_at is None


async def test_link_mails_go_only_to_the_account_of_a_token_this_run_issued(
    rogue: Rogue, auth_runtime: AuthRuntime
) -> None:
    owner, attacker = await create_user(auth_runtime), await create_user(auth_runtime)

    issued, to_attacker, as_verification, without, sent = await rogue(
        RESET,
        issue(str(owner.id), TokenPurpose.password_reset),
        mail(attacker.email, MailTemplate.password_reset, LAST_TOKEN),
        mail(owner.email, MailTemplate.verify_email, LAST_TOKEN),
        mail(owner.email, MailTemplate.password_reset, None),
        mail(owner.email, MailTemplate.password_reset, LAST_TOKEN),
    )
    (other_run,) = await rogue(
        RESET, mail(owner.email, MailTemplate.password_reset, issued.result["token"])
    )

    assert refused(to_attacker, "to its account's address")
    assert refused(as_verification, "a token this run issued")
    assert refused(without, "needs the token")
    assert refused(other_run, "a token this run issued")
    assert sent.result == {"sent": True}


async def test_a_reset_link_is_mailed_only_by_a_reset_run_to_its_accounts_address(
    rogue: Rogue, auth_runtime: AuthRuntime
) -> None:
    owner, attacker = await create_user(auth_runtime), await create_user(auth_runtime)
    owner_id = str(owner.id)

    (as_registration,) = await rogue(REGISTRATION, reset_link(owner_id, owner.email))
    (to_attacker,) = await rogue(RESET, reset_link(owner_id, attacker.email))
    (foreign_key,) = await rogue(RESET, reset_link(owner_id, owner.email, "elsewhere:1:link"))
    sent, again = await rogue(
        RESET, reset_link(owner_id, owner.email), reset_link(owner_id, owner.email)
    )

    assert refused(as_registration, "only ['password_reset']")
    assert refused(to_attacker, "its account's address")
    assert refused(foreign_key, "does not belong to this workflow run")
    assert sent.result == {"sent": True} and again.result == {"sent": False}
    async with transaction(auth_runtime.resources.database) as db:
        tokens = list(
            await db.scalars(select(OneTimeToken).where(OneTimeToken.user_id == owner.id))
        )
    assert len(tokens) == 1, "a refused or repeated step issued a token"


async def test_the_sign_up_notice_goes_only_to_the_address_being_registered(
    rogue: Rogue, auth_runtime: AuthRuntime
) -> None:
    owner = await create_user(auth_runtime)
    notice = mail(owner.email, MailTemplate.registration_attempt, None)
    nobody = unique_email()

    (other_run,) = await rogue(REGISTRATION, notice)
    (as_reset,) = await rogue(RESET, notice, workflow_id=registration_workflow_id(owner.email))
    (no_account,) = await rogue(
        REGISTRATION,
        mail(nobody, MailTemplate.registration_attempt, None),
        workflow_id=registration_workflow_id(nobody),
    )
    (sent,) = await rogue(REGISTRATION, notice, workflow_id=registration_workflow_id(owner.email))

    assert refused(other_run, "only to the address this registration is for")
    assert refused(as_reset) and refused(no_account, "existing account")
    assert sent.result == {"sent": True}


# --- SSO --------------------------------------------------------------------------------------


async def test_sso_links_and_opens_sessions_only_for_what_this_run_proved(
    rogue: Rogue, auth_runtime: AuthRuntime
) -> None:
    victim = await create_user(auth_runtime)
    new_user_id = str(uuid.uuid4())
    claimed = {
        "issuer": "https://idp.example.com",
        "subject": f"sub-{uuid.uuid4().hex}",
        "email": victim.email,
        "email_verified": True,
        "link_verified_email": True,
        "new_user_id": new_user_id,
        "idempotency_key": f"{ROGUE_RUN}:identity",
    }
    exchange = {"provider": "nope", "code": "c", "code_verifier": "v", "nonce": "n"}

    (unproved,) = await rogue(SSO, Step(LINK_SSO_IDENTITY.name, claimed))
    (as_reset,) = await rogue(RESET, Step(SSO_EXCHANGE_CODE.name, exchange))
    sso_user = await create_user(auth_runtime)
    async with transaction(auth_runtime.resources.database) as db:
        db.add(SsoIdentity(issuer="https://idp", subject=uuid.uuid4().hex, user_id=sso_user.id))
    session = {"user_id": str(sso_user.id), "client_ip": None, "user_agent": None}
    (not_linked,) = await rogue(
        SSO, Step(CREATE_SSO_SESSION.name, {**session, "idempotency_key": f"{ROGUE_RUN}:session"})
    )
    (delete_theirs,) = await rogue(
        SSO,
        Step(
            DELETE_SSO_ACCOUNT.name, {"user_id": str(victim.id), "account_key": f"test:{victim.id}"}
        ),
    )

    assert refused(unproved, "only the identity this run's ID token proved")
    assert refused(not_linked, "only for the account this run's sign-in linked")
    async with transaction(auth_runtime.resources.database) as db:
        assert not list(await db.scalars(select(Session.id).where(Session.user_id == sso_user.id)))
    assert refused(as_reset, "only ['sso_authentication']")
    assert refused(delete_theirs, "does not belong to this workflow run")
    assert await credential(auth_runtime, victim.email) is not None
    async with transaction(auth_runtime.resources.database) as db:
        assert await db.get(Credential, uuid.UUID(new_user_id)) is None


# --- a header copied out of a history ---------------------------------------------------------


class _CopiedHeader(Interceptor):
    """Someone who can read histories and start workflows, but holds no key: sends a sealed
    header they copied."""

    def __init__(self, header: Payload) -> None:
        self.header = header

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        header = self.header

        class Outbound(OutboundInterceptor):
            async def start_workflow(self, input: StartWorkflowInput) -> Any:
                input.headers = {**input.headers, HEADER_KEY: header}
                return await super().start_workflow(input)

        return Outbound(next)


def denial(failure: WorkflowFailureError) -> str:
    """The message of the activity refusal that failed the workflow."""
    activity_error = failure.cause
    assert isinstance(activity_error, ActivityError), failure
    cause = activity_error.cause
    assert isinstance(cause, ApplicationError) and cause.type == SECURITY_CONTEXT_DENIED, failure
    return cause.message


async def start_with(settings: Settings, header: Payload, workflow_id: str, queue: str) -> Any:
    client = await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        interceptors=[_CopiedHeader(header)],
    )
    return await client.execute_workflow(ParentWorkflow.run, 0, id=workflow_id, task_queue=queue)


async def test_a_header_copied_from_one_history_is_refused_on_another_workflow(
    temporal: Client, settings: Settings, whoami_queue: str
) -> None:
    admin = SecurityContext.for_user(
        str(uuid.uuid4()), tenant_id=str(uuid.uuid4()), roles=["owner"]
    )
    with acting_as(admin):
        seen = await temporal.execute_workflow(
            ParentWorkflow.run, 0, id=f"{whoami_queue}-original", task_queue=whoami_queue
        )
    assert seen["activity"]["user_id"] == admin.user_id and seen["child"]["roles"] == ["owner"]
    history = await temporal.get_workflow_handle(f"{whoami_queue}-original").fetch_history()
    copied = history.events[0].workflow_execution_started_event_attributes.header.fields[HEADER_KEY]

    with pytest.raises(WorkflowFailureError) as failure:
        await start_with(settings, copied, f"{whoami_queue}-copy", whoami_queue)

    assert "sealed for another workflow" in denial(failure.value)


async def test_a_header_sealed_for_an_earlier_start_of_the_same_id_is_refused(
    settings: Settings, whoami_queue: str
) -> None:
    workflow_id = f"{whoami_queue}-again"
    admin = SecurityContext.for_user(
        str(uuid.uuid4()), tenant_id=str(uuid.uuid4()), roles=["owner"]
    )
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    stale = await seal(
        admin, data_converter(settings), workflow_id=workflow_id, issued_at=an_hour_ago
    )
    fresh = await seal(admin, data_converter(settings), workflow_id=workflow_id)

    with pytest.raises(WorkflowFailureError) as failure:
        await start_with(settings, stale, workflow_id, whoami_queue)
    assert "earlier start" in denial(failure.value)

    # The same header sealed just now is fine: the refusal is about time, not the id.
    seen = await start_with(settings, fresh, workflow_id, whoami_queue)
    assert json.dumps(seen["child"]["user_id"]) == json.dumps(admin.user_id)


async def test_the_root_of_a_continued_run_and_of_a_child_is_the_first_run_of_the_starter(
    temporal: Client, whoami_queue: str
) -> None:
    """What the binding compares: the starter's workflow id and the start of its first run, so
    a continue-as-new long after the start keeps the context (a later run's own start would
    not do)."""
    workflow_id = f"{whoami_queue}-chain"
    await temporal.execute_workflow(ParentWorkflow.run, 2, id=workflow_id, task_queue=whoami_queue)
    last = await temporal.get_workflow_handle(workflow_id).describe()
    first_run_id = last.raw_description.workflow_execution_info.first_run_id
    first = await temporal.get_workflow_handle(workflow_id, run_id=first_run_id).describe()
    child = await temporal.get_workflow_handle(f"{workflow_id}-child").describe()
    assert first_run_id != last.run_id and first.start_time < last.start_time

    roots = RootRuns()
    for described in (last, child):
        assert described.run_id is not None
        root = await roots.of(temporal, described.id, described.run_id)
        assert root == RootRun(
            workflow_id, first.start_time, scheduled_by=None, workflow_type=first.workflow_type
        )
