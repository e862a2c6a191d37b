"""``user_onboarding`` compensates what it did when a later step fails: a failure injected at
each step after the check leaves no account, membership, claims, profile, preferences, checklist
or directory row of the new person behind; a person who existed before keeps everything."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from tests.auth.users import create_user
from tests.tenant.workflows.stack import failing
from tests.workflow.onboarding.stack import onboard, provisioned, request, traces
from workflows.auth.onboarding_contracts import ENSURE_ACCOUNT
from workflows.auth.principal_contracts import SYNC_PRINCIPAL_CLAIMS
from workflows.tenant.onboarding_contracts import ADD_ONBOARDED_MEMBER
from workflows.user.first_run_contracts import PREPARE_FIRST_RUN, SEND_WELCOME_MAIL

pytestmark = pytest.mark.timeout(180)


def failing_claims_for_new_members() -> Any:
    """``auth.sync_principal_claims`` failing when it grants a role (the onboarding's step) but
    working when it removes one (the compensation), as a broken auth step would."""
    from services.auth.principal.activities import PrincipalActivities

    holder: dict[str, Any] = {}

    async def sync(input: Any) -> Any:
        if input.roles:
            raise ApplicationError("injected failure", type="InjectedFailure", non_retryable=True)
        return await PrincipalActivities(holder["runtime"]).sync_principal_claims(input)

    sync.__annotations__ = {
        "input": SYNC_PRINCIPAL_CLAIMS.input_type,
        "return": SYNC_PRINCIPAL_CLAIMS.output_type,
    }
    return holder, SYNC_PRINCIPAL_CLAIMS.implement(sync)


@pytest.mark.parametrize(
    "step",
    [ENSURE_ACCOUNT.name, ADD_ONBOARDED_MEMBER.name, "claims", PREPARE_FIRST_RUN.name, "welcome"],
)
async def test_a_failed_step_leaves_nothing_of_a_new_person(
    step: str,
    temporal: Client,
    onboarding_stack: Any,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    owner = await create_user(auth_runtime)
    email = f"undo-{uuid.uuid4().hex[:10]}@example.com"
    replace: dict[str, Any] = {}
    if step == "claims":
        holder, stand_in = failing_claims_for_new_members()
        holder["runtime"] = auth_runtime
        replace[SYNC_PRINCIPAL_CLAIMS.name] = stand_in
    elif step == "welcome":
        replace[SEND_WELCOME_MAIL.name] = failing(SEND_WELCOME_MAIL)
    else:
        contract = {c.name: c for c in (ENSURE_ACCOUNT, ADD_ONBOARDED_MEMBER, PREPARE_FIRST_RUN)}[
            step
        ]
        replace[step] = failing(contract)
    async with onboarding_stack() as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
    async with onboarding_stack(replace=replace) as stack:
        handle = await onboard(temporal, stack, request(tenant_id, owner.id, email))
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        progress = await handle.query("progress")
    found = await traces(
        email, tenant_id, auth=auth_resources, tenant=tenant_resources, user=user_resources
    )
    assert isinstance(failure.value.cause, ApplicationError)
    assert failure.value.cause.type == "InjectedFailure"
    assert found.empty, found
    assert progress["state"] == "failed"


async def test_a_failure_keeps_what_existed_before(
    temporal: Client,
    onboarding_stack: Any,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    """An existing account, onboarded into a second tenant, whose welcome fails: the account,
    its first tenant's membership and set-up stay; only the second tenant's rows go."""
    owner, person = await create_user(auth_runtime), await create_user(auth_runtime)
    async with onboarding_stack() as stack:
        first = await provisioned(temporal, stack, owner.id)
        second = await provisioned(temporal, stack, owner.id)
        await (await onboard(temporal, stack, request(first, owner.id, person.email))).result()
    before = await traces(
        person.email, first, auth=auth_resources, tenant=tenant_resources, user=user_resources
    )
    async with onboarding_stack(replace={SEND_WELCOME_MAIL.name: failing(SEND_WELCOME_MAIL)}) as s:
        handle = await onboard(temporal, s, request(second, owner.id, person.email))
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    after = await traces(
        person.email, first, auth=auth_resources, tenant=tenant_resources, user=user_resources
    )
    in_second = await traces(
        person.email, second, auth=auth_resources, tenant=tenant_resources, user=user_resources
    )
    assert after == before and after.account == person.id and after.profile
    assert (in_second.membership, in_second.claims, in_second.directory) == (None, None, False)
    assert not in_second.first_run
    # The profile and the user-wide preferences were the first tenant's set-up's: kept.
    assert in_second.profile and in_second.preferences == 1
