"""What ``user_onboarding`` refuses, and that a refusal writes nothing: bad input before a run
starts (``services/common/onboarding.py``), and on the real stack an unknown tenant or role, a
hostile name slipped past the starter, an admin of another tenant, a member without
``members.manage``, an admin granting ownership, and an input naming another actor."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from services.auth.runtime import AuthRuntime
from services.common.onboarding import OnboardingInputError, checked_input
from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from tests.auth.users import create_user
from tests.workflow.onboarding.stack import onboard, provisioned, request, traces
from workflows.onboarding.user_onboarding import (
    UserOnboardingWorkflow,
    user_onboarding_workflow_id,
)

pytestmark = pytest.mark.timeout(180)
TENANT, ACTOR = str(uuid.uuid4()), uuid.uuid4()
MEGABYTE = "x" * 1_000_000


@pytest.mark.parametrize(
    ("fields", "names"),
    [
        ({"email": "not an address"}, "email"),
        ({"email": MEGABYTE + "@example.com"}, "email"),
        ({"email": 42}, "email"),
        ({"given_name": MEGABYTE}, "given_name"),
        ({"display_name": "bad \udcff surrogate"}, "display_name"),
        ({"family_name": "zero\u200bwidth"}, "family_name"),
        ({"locale": "not-a-locale-at-all!"}, "locale"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"role": ""}, "role"),
        ({"role": MEGABYTE}, "role"),
        ({"source": "carrier-pigeon"}, "source"),
        ({"idempotency_key": "has spaces and ünïcode"}, "idempotency_key"),
        ({"tenant_id": "not-a-uuid"}, "tenant_id"),
        ({"actor_id": None}, "actor_id"),
        ({"password_link_ttl_seconds": 0}, "password_link_ttl_seconds"),
    ],
)
def test_bad_input_is_refused_before_a_run_starts(fields: dict[str, Any], names: str) -> None:
    base = request(TENANT, ACTOR, "ok@example.com")
    with pytest.raises(OnboardingInputError, match=names):
        checked_input(dataclasses.replace(base, **fields))


def test_good_input_is_normalised() -> None:
    checked = checked_input(
        request(TENANT, ACTOR, "Grete@Example.COM", given_name="  Grete  ", idempotency_key="")
    )
    assert checked.email == "grete@example.com" and checked.given_name == "Grete"
    # No key: one per tenant and address, with no address in it.
    assert checked.idempotency_key.startswith(TENANT) and "grete" not in checked.idempotency_key


async def _refusal(handle: Any) -> str:
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert isinstance(failure.value.cause, ApplicationError)
    return str(failure.value.cause.type)


async def test_refusals_on_the_stack_write_nothing(
    temporal: Client,
    onboarding_stack: Any,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    owner_a, owner_b = await create_user(auth_runtime), await create_user(auth_runtime)
    emails = [f"refused-{i}-{uuid.uuid4().hex[:8]}@example.com" for i in range(8)]
    async with onboarding_stack() as stack:
        tenant_a = await provisioned(temporal, stack, owner_a.id)
        tenant_b = await provisioned(temporal, stack, owner_b.id)
        admin = await create_user(auth_runtime)
        member = await create_user(auth_runtime)
        for person, role in ((admin, "admin"), (member, "member")):
            await (
                await onboard(
                    temporal, stack, request(tenant_a, owner_a.id, person.email, role=role)
                )
            ).result()
        outcomes = {
            "unknown tenant": await _refusal(
                await onboard(temporal, stack, request(str(uuid.uuid4()), owner_a.id, emails[0]))
            ),
            "unknown role": await _refusal(
                await onboard(
                    temporal, stack, request(tenant_a, owner_a.id, emails[1], role="czar")
                )
            ),
            "admin of A into B": await _refusal(
                await onboard(temporal, stack, request(tenant_b, owner_a.id, emails[2]))
            ),
            "member without members.manage": await _refusal(
                await onboard(temporal, stack, request(tenant_a, member.id, emails[3]))
            ),
            "admin making an owner": await _refusal(
                await onboard(temporal, stack, request(tenant_a, admin.id, emails[4], role="owner"))
            ),
            "another actor than the caller": await _refusal(
                await onboard(
                    temporal,
                    stack,
                    request(tenant_b, owner_b.id, emails[5]),
                    context=SecurityContext.for_user(str(owner_a.id)),
                )
            ),
        }
        # Past the starter's checks (started by name, as a workflow's child could): the user
        # service refuses the megabyte name, and what was done before it is undone.
        hostile = request(tenant_a, owner_a.id, emails[6], given_name="y" * 200_000)
        with acting_as(SecurityContext.for_user(str(owner_a.id))):
            raw = await temporal.start_workflow(
                UserOnboardingWorkflow.run,
                hostile,
                id=user_onboarding_workflow_id(hostile.idempotency_key),
                task_queue=stack.workflow,
            )
        outcomes["megabyte name"] = await _refusal(raw)
        admin_ok = await (
            await onboard(temporal, stack, request(tenant_a, admin.id, emails[7], role="viewer"))
        ).result()
    assert outcomes == {
        "unknown tenant": "TenantNotFound",
        "unknown role": "UnknownRole",
        "admin of A into B": "NotAMember",
        "member without members.manage": "PermissionDenied",
        "admin making an owner": "OwnerRequired",
        "another actor than the caller": "SecurityContextDenied",
        "megabyte name": "InvalidInput",
    }
    for email, tenant in zip(
        emails[:7],
        [tenant_a, tenant_a, tenant_b, tenant_a, tenant_a, tenant_b, tenant_a],
        strict=True,
    ):
        found = await traces(
            email, tenant, auth=auth_resources, tenant=tenant_resources, user=user_resources
        )
        assert found.empty, (email, found)
    assert admin_ok.membership_created
