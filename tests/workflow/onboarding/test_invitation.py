"""The invitation path: accepting an invitation (``membership_change`` ``accept``) starts
``user_onboarding`` with source ``invitation`` for the new member, which sets them up (checklist,
default preferences, welcome mail) without touching the membership the acceptance made; the
name and fields ``membership_change`` starts it with are the onboarding contract's. With
``ADX_RECORD_HISTORIES=1`` the acceptance is ``tests/histories/membership_change.v2-onboards.json``."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import Settings
from tests.auth.mail_flows import record_history, wait_for_outbox
from tests.auth.users import create_user
from tests.tenant.workflows.flows import change, invite
from tests.tenant.workflows.stack import TenantStack
from tests.workflow.onboarding.stack import provisioned, traces
from workflows.onboarding.contracts import (
    OnboardingWorkflow,
    UserOnboardingInput,
    UserOnboardingResult,
)
from workflows.onboarding.user_onboarding import user_onboarding_workflow_id
from workflows.tenant.membership_change import (
    ONBOARDING_QUEUE,
    ONBOARDING_WORKFLOW,
    invitation_onboarding_key,
)

pytestmark = pytest.mark.timeout(120)


def test_membership_change_starts_the_contracted_workflow() -> None:
    assert ONBOARDING_WORKFLOW == OnboardingWorkflow.USER_ONBOARDING
    assert ONBOARDING_QUEUE == "workflow"
    fields = {f.name for f in dataclasses.fields(UserOnboardingInput)}
    assert {"tenant_id", "email", "role", "actor_id", "source", "idempotency_key"} <= fields


async def test_an_accepted_invitation_onboards_the_member(
    temporal: Client,
    onboarding_stack: Any,
    settings: Settings,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    owner, invitee = await create_user(auth_runtime), await create_user(auth_runtime)
    async with onboarding_stack() as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        digest = await invite(tenant_resources, tenant_id, owner.id, invitee.email, "viewer")
        tenant_queue = TenantStack(prefix=stack.tenant.rsplit("-", 1)[0], queue=stack.tenant)
        accepted = await change(
            temporal, tenant_queue, invitee.id, tenant_id, "accept", token_hash=digest
        )
        await accepted.result()
        await record_history(accepted, "membership_change.v2-onboards")
        history = await accepted.fetch_history()
        started = [
            e.start_child_workflow_execution_initiated_event_attributes.workflow_id
            for e in history.events
            if e.HasField("start_child_workflow_execution_initiated_event_attributes")
        ]
        (child_id,) = started
        onboarding = temporal.get_workflow_handle(child_id, result_type=UserOnboardingResult)
        result = await onboarding.result()
        mails = await wait_for_outbox(settings, invitee.email)
    found = await traces(
        invitee.email, tenant_id, auth=auth_resources, tenant=tenant_resources, user=user_resources
    )
    assert child_id.startswith(user_onboarding_workflow_id(invitation_onboarding_key("")))
    assert result.user_id == str(invitee.id)
    assert not result.account_created and not result.membership_created
    assert result.first_run_created
    assert (found.membership, found.claims, found.directory) == ("viewer", ["viewer"], True)
    assert found.first_run and found.preferences == 2
    assert len(mails) == 1 and str(mails[0]["Subject"]).startswith("Welcome to Tenant t-")
