"""One-time tokens at the activity and storage level: only hashes stored, a retried issue never
leaves two live tokens, a token is spent once (also under concurrency), only by its own
workflow and purpose, and not after it expired."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import func, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.auth.accounts.activities import AccountActivities
from services.auth.one_time_tokens import link_token_purpose
from services.auth.opaque import hash_token
from services.auth.runtime import AuthRuntime
from services.common.sealing import SealError, is_sealed, sealer_for
from services.common.security_context import SecurityContext, acting_as
from storage.auth.models import OneTimeToken
from storage.auth.one_time_tokens import OneTimeTokenRepository
from storage.db import transaction
from tests.auth.users import AuthUser, create_user
from workflows.auth.contracts import (
    ConsumeOneTimeTokenInput,
    IssueOneTimeTokenInput,
    IssueOneTimeTokenOutput,
    TokenPurpose,
)


@pytest.fixture(autouse=True)
def _as_the_platform() -> Iterator[None]:
    """These tests call the activities directly, as the platform (the rules on who may run
    them are tested in tests/platform/test_activity_rules.py)."""
    with acting_as(SecurityContext.system("test")):
        yield


@pytest.fixture
def activities(auth_runtime: AuthRuntime) -> AccountActivities:
    return AccountActivities(auth_runtime)


async def user_and_run(runtime: AuthRuntime) -> tuple[AuthUser, str]:
    """A new user and a fresh workflow id to issue its tokens for."""
    return await create_user(runtime), f"wf-{uuid.uuid4().hex}"


def issue_input(
    user_id: uuid.UUID, workflow_id: str, **overrides: object
) -> IssueOneTimeTokenInput:
    fields: dict[str, object] = {
        "user_id": str(user_id),
        "purpose": TokenPurpose.verify_email,
        "ttl_seconds": 60,
        "workflow_id": workflow_id,
        "idempotency_key": f"{workflow_id}:run:token",
    }
    return IssueOneTimeTokenInput(**{**fields, **overrides})  # type: ignore[arg-type]


async def issue(
    activities: AccountActivities, request: IssueOneTimeTokenInput
) -> IssueOneTimeTokenOutput:
    """Issue through the activity, then open its sealed token as send_email does."""
    issued = await ActivityEnvironment().run(activities.issue_one_time_token, request)
    bound = link_token_purpose(request.purpose, request.workflow_id)
    raw = sealer_for(activities.runtime.settings).unseal(issued.token, bound)
    return replace(issued, token=raw)


def consume_input(raw: str, workflow_id: str, purpose: str = TokenPurpose.verify_email):  # type: ignore[no-untyped-def]
    return ConsumeOneTimeTokenInput(
        token_hash=hash_token(raw), purpose=purpose, workflow_id=workflow_id
    )


async def consume(
    activities: AccountActivities, request: ConsumeOneTimeTokenInput, attempt: int = 1
) -> str | None:
    env = ActivityEnvironment()
    env.info = replace(env.info, attempt=attempt)
    return (await env.run(activities.consume_one_time_token, request)).user_id


async def rows(runtime: AuthRuntime, workflow_id: str) -> list[OneTimeToken]:
    async with transaction(runtime.resources.database) as db:
        return list(
            await db.scalars(select(OneTimeToken).where(OneTimeToken.workflow_id == workflow_id))
        )


async def test_only_the_hash_is_stored_with_its_expiry(
    activities: AccountActivities, auth_runtime: AuthRuntime
) -> None:
    user, workflow_id = await user_and_run(auth_runtime)

    issued = await issue(activities, issue_input(user.id, workflow_id, ttl_seconds=3600))

    [row] = await rows(auth_runtime, workflow_id)
    assert len(issued.token) >= 43 and row.token_hash == hash_token(issued.token)
    assert issued.token not in str(vars(row))
    async with transaction(auth_runtime.resources.database) as db:
        now = await db.scalar(select(func.now()))
    assert now is not None
    assert 3590 < (row.expires_at - now).total_seconds() <= 3600


async def test_the_token_leaves_the_activity_only_sealed(
    activities: AccountActivities, auth_runtime: AuthRuntime
) -> None:
    """The output goes into the workflow history: sealed for this purpose and run only."""
    user, workflow_id = await user_and_run(auth_runtime)
    request = issue_input(user.id, workflow_id)

    sealed = (await ActivityEnvironment().run(activities.issue_one_time_token, request)).token

    [row] = await rows(auth_runtime, workflow_id)
    assert is_sealed(sealed) and row.token_hash != hash_token(sealed)
    sealer = sealer_for(auth_runtime.settings)
    raw = sealer.unseal(sealed, link_token_purpose(TokenPurpose.verify_email, workflow_id))
    assert row.token_hash == hash_token(raw) and raw not in sealed
    for other in (
        link_token_purpose(TokenPurpose.password_reset, workflow_id),  # another kind
        link_token_purpose(TokenPurpose.verify_email, "another-workflow"),  # another run
    ):
        with pytest.raises(SealError):
            sealer.unseal(sealed, other)


async def test_a_retried_issue_replaces_its_own_token(
    activities: AccountActivities, auth_runtime: AuthRuntime
) -> None:
    user, workflow_id = await user_and_run(auth_runtime)
    request = issue_input(user.id, workflow_id)

    lost = await issue(activities, request)
    retried = await issue(activities, request)

    assert len(await rows(auth_runtime, workflow_id)) == 1
    assert await consume(activities, consume_input(lost.token, workflow_id)) is None
    assert await consume(activities, consume_input(retried.token, workflow_id)) == str(user.id)
    with pytest.raises(ApplicationError) as spent:  # the step's token is gone: no new one
        await ActivityEnvironment().run(activities.issue_one_time_token, request)
    assert spent.value.non_retryable


async def test_a_token_is_spent_once_under_concurrency(
    activities: AccountActivities, auth_runtime: AuthRuntime
) -> None:
    user, workflow_id = await user_and_run(auth_runtime)
    issued = await issue(activities, issue_input(user.id, workflow_id))

    winners = await asyncio.gather(
        *(consume(activities, consume_input(issued.token, workflow_id)) for _ in range(8))
    )

    assert winners.count(str(user.id)) == 1 and winners.count(None) == 7
    [row] = await rows(auth_runtime, workflow_id)
    assert row.used_at is not None


async def test_a_token_redeems_only_for_its_workflow_and_purpose(
    activities: AccountActivities, auth_runtime: AuthRuntime
) -> None:
    user, workflow_id = await user_and_run(auth_runtime)
    issued = await issue(activities, issue_input(user.id, workflow_id))

    other_workflow = await consume(activities, consume_input(issued.token, "someone-else"))
    other_purpose = await consume(
        activities, consume_input(issued.token, workflow_id, TokenPurpose.password_reset)
    )

    assert other_workflow is None and other_purpose is None
    assert await consume(activities, consume_input(issued.token, workflow_id)) == str(user.id)


async def test_an_expired_token_is_not_redeemable(
    activities: AccountActivities, auth_runtime: AuthRuntime
) -> None:
    user, workflow_id = await user_and_run(auth_runtime)
    issued = await issue(activities, issue_input(user.id, workflow_id, ttl_seconds=1))
    async with transaction(auth_runtime.resources.database) as db:
        assert (
            await OneTimeTokenRepository(db).waiting_workflow(
                hash_token(issued.token), TokenPurpose.verify_email
            )
            == workflow_id
        )

    await asyncio.sleep(1.2)

    async with transaction(auth_runtime.resources.database) as db:
        assert (
            await OneTimeTokenRepository(db).waiting_workflow(
                hash_token(issued.token), TokenPurpose.verify_email
            )
            is None
        )
    assert await consume(activities, consume_input(issued.token, workflow_id)) is None


async def test_a_retried_consume_recognises_its_own_spend(
    activities: AccountActivities, auth_runtime: AuthRuntime
) -> None:
    """Attempt 1 committed but its answer was lost: attempt 2 must not report "invalid"."""
    user, workflow_id = await user_and_run(auth_runtime)
    issued = await issue(activities, issue_input(user.id, workflow_id))
    request = consume_input(issued.token, workflow_id)

    assert await consume(activities, request) == str(user.id)
    assert await consume(activities, request, attempt=2) == str(user.id)
    assert await consume(activities, request) is None, "a first attempt never re-spends"
    stranger = consume_input(issued.token, "someone-else")
    assert await consume(activities, stranger, attempt=2) is None


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"purpose": "login"}, id="unknown-purpose"),
        pytest.param({"ttl_seconds": 0}, id="no-lifetime"),
        pytest.param({"user_id": str(uuid.uuid4())}, id="unknown-user"),
    ],
)
async def test_issue_rejects_bad_requests_for_good(
    activities: AccountActivities, auth_runtime: AuthRuntime, overrides: dict[str, object]
) -> None:
    user, workflow_id = await user_and_run(auth_runtime)
    with pytest.raises(ApplicationError) as error:
        await ActivityEnvironment().run(
            activities.issue_one_time_token,
            replace(issue_input(user.id, workflow_id), **overrides),  # type: ignore[arg-type]
        )
    assert error.value.non_retryable
    assert await rows(auth_runtime, workflow_id) == []
