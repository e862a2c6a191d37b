"""The throttle of ``tenant_switching`` starts (``services/auth/switching/bookkeeping.py``): a
session's first switch starts its run at once, switches within the interval are merged into
one trailing run carrying the latest tenant and every tenant left, a shutdown starts what
waits; and on the real stack, rapid switches through GraphQL leave the last tenant recorded
(``tenants.active_tenants``) by the stack's own tenant worker."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

from services.auth.runtime import AuthRuntime
from services.auth.switching.bookkeeping import SwitchBookkeeping
from services.common.resources import Resources
from storage.db import transaction
from storage.tenants.active_tenants import ActiveTenantRepository
from tests.graphql_client import gql
from tests.support import Stack
from tests.tenant.graphql.tenant_graphql import SWITCH, login, new_user, seed_tenant
from workflows.tenant.tenant_switching import TenantSwitchingInput

BASE = datetime(2026, 12, 1, tzinfo=UTC)


class Starts:
    def __init__(self) -> None:
        self.calls: list[tuple[TenantSwitchingInput, str, list[str]]] = []

    async def __call__(
        self, switch: TenantSwitchingInput, workflow_id: str, roles: list[str]
    ) -> None:
        self.calls.append((switch, workflow_id, roles))


def switch_of(session: str, step: int, from_: str | None, to: str) -> TenantSwitchingInput:
    return TenantSwitchingInput(
        user_id="u",
        session_id=session,
        to_tenant_id=to,
        from_tenant_id=from_,
        switched_at=(BASE + timedelta(seconds=step)).isoformat(),
    )


async def test_switches_within_the_interval_are_one_trailing_run() -> None:
    starts = Starts()
    throttle = SwitchBookkeeping(starts, interval=0.3)
    first = throttle.note(switch_of("s", 0, "A", "B"), ["viewer"])
    await asyncio.sleep(0)  # the first start is not delayed
    merged = [
        throttle.note(switch_of("s", 1, "B", "A"), ["owner"]),
        throttle.note(switch_of("s", 2, "A", "C"), ["member"]),
        throttle.note(switch_of("s", 3, "C", "B"), ["viewer"]),
    ]
    other = throttle.note(switch_of("t", 0, None, "A"), ["owner"])  # another session: its own
    await asyncio.sleep(0)
    assert [call[1] for call in starts.calls] == [first, other]
    assert starts.calls[0][0].to_tenant_id == "B" and starts.calls[0][0].from_tenant_id == "A"

    for _ in range(40):
        if len(starts.calls) == 3:
            break
        await asyncio.sleep(0.05)

    assert len(set(merged)) == 1 and merged[0] != first
    assert merged[0].startswith("tenant-switching-s-")
    assert len(starts.calls) == 3
    trailing, workflow_id, roles = starts.calls[2]
    assert workflow_id == merged[0] and roles == ["viewer"]
    assert (
        trailing.to_tenant_id == "B"
        and trailing.switched_at == switch_of("s", 3, "C", "B").switched_at
    )
    # Every tenant the session left after the first run, the one it is in now excepted.
    assert [trailing.from_tenant_id, *trailing.also_left_tenant_ids] == ["A", "C"]


async def test_a_quiet_session_starts_at_once_again_and_a_shutdown_starts_what_waits() -> None:
    starts = Starts()
    throttle = SwitchBookkeeping(starts, interval=0.2)
    throttle.note(switch_of("s", 0, "A", "B"), [])
    await asyncio.sleep(0.25)
    throttle.note(switch_of("s", 1, "B", "A"), [])  # quiet for an interval: at once
    await asyncio.sleep(0)
    waiting = throttle.note(switch_of("s", 2, "A", "B"), [])
    assert len(starts.calls) == 2

    began = time.monotonic()
    await throttle.drain()

    assert time.monotonic() - began < 0.15  # drained, not waited out
    assert [call[1] for call in starts.calls][2] == waiting
    assert starts.calls[2][0].to_tenant_id == "B" and starts.calls[2][0].from_tenant_id == "A"


async def test_a_failed_start_is_logged_and_the_next_ones_still_start() -> None:
    calls: list[str] = []

    async def flaky(switch: TenantSwitchingInput, workflow_id: str, roles: list[str]) -> None:
        calls.append(workflow_id)
        if len(calls) == 1:
            raise RuntimeError("temporal is down")

    throttle = SwitchBookkeeping(flaky, interval=0.1)
    throttle.note(switch_of("s", 0, "A", "B"), [])
    throttle.note(switch_of("s", 1, "B", "A"), [])
    for _ in range(50):
        if len(calls) == 2:
            break
        await asyncio.sleep(0.05)
    assert len(calls) == 2


async def active_tenant(resources: Resources, user_id: uuid.UUID) -> uuid.UUID | None:
    async with transaction(resources.database, user_id=user_id) as db:
        row = await ActiveTenantRepository(db).current(user_id)
        return row.tenant_id if row is not None else None


async def test_rapid_switches_on_the_stack_record_the_last_tenant(
    stack: Stack, auth_runtime: AuthRuntime, tenant_resources: Resources
) -> None:
    alice, bob = await new_user(auth_runtime), await new_user(auth_runtime)
    a = await seed_tenant(auth_runtime, tenant_resources, [(alice, "owner")])
    b = await seed_tenant(auth_runtime, tenant_resources, [(bob, "owner"), (alice, "viewer")])
    token = (await login(stack.graphql, alice, a))["accessToken"]

    ids = []
    for target in (b, a, b, a, b):  # well within one interval
        switched = await gql(stack.graphql, SWITCH, {"id": str(target)}, token=token)
        assert not switched.get("errors"), switched
        token = switched["data"]["switchTenant"]["accessToken"]
        ids.append(switched["data"]["switchTenant"]["workflowId"])

    recorded = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        recorded = await active_tenant(tenant_resources, alice.id)
        if recorded == b and ids[-1] != ids[0]:
            break
        await asyncio.sleep(0.2)
    assert recorded == b
    # Two runs for five switches: the first at once, the other four merged.
    assert len(set(ids)) == 2 and len(set(ids[1:])) == 1, ids
