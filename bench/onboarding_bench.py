"""``user_onboarding`` end to end against a bare Temporal workflow of the same shape (``make
bench-onboarding``, or ``python -m bench.onboarding_bench [--duration 20] [--json out.json]``).

- **user_onboarding**: the auth, tenant, user, file and workflow services as processes (HTTP and
  workers), one provisioned tenant; clients in a closed loop start ``user_onboarding`` for a new
  address (``services.common.onboarding.start_user_onboarding``, as the tenant's owner) and wait
  for its result: the account, membership, claims, the ``user_first_run`` child on the user queue
  (profile, preferences, checklist, directory entry, welcome mail to the outbox) and the
  abandoned ``password_reset`` start.
- **bare workflow**: ``bench/noop_plan_workflow.py`` replaying one onboarding run's shape read from
  its history (each activity a no-op on a queue of the same service, the awaited child with its
  activities on the user's, the abandoned child started), workers in this process, same clients.

Target: user_onboarding p50 at most 1.3x the bare workflow's. Not a test: it measures and
reports."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.api.enums.v1 import EventType, ParentClosePolicy
from temporalio.client import Client, WorkflowFailureError

from bench.argon2_rate import PASSWORD
from bench.infra import BenchInfra, create_verified_accounts, infrastructure
from bench.load import OperationError, PhaseResult, drive, wait_until_quiet
from bench.noop_plan_workflow import NoopPlanWorkflow, Plan, Step
from bench.noop_workflow import noop
from bench.tenant_create import stack_env, start_stack
from services.common.onboarding import start_user_onboarding
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName, Settings
from services.common.temporal import build_worker, connect_temporal
from storage.auth.models import Credential
from workflows.onboarding.contracts import UserOnboardingInput
from workflows.tenant.plans import Plan as TenantPlan
from workflows.tenant.tenant_provisioning import (
    TenantProvisioningInput,
    TenantProvisioningWorkflow,
    tenant_provisioning_workflow_id,
)

P50_RATIO_TARGET = 1.3
SERVICES = (
    ServiceName.auth,
    ServiceName.tenant,
    ServiceName.user,
    ServiceName.file,
    ServiceName.workflow,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per measured phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="uncounted seconds before each")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--json", help="also write the figures to this file")
    return parser.parse_args(argv)


def stack_settings(infra: BenchInfra) -> Settings:
    """This process's settings as the stack's (the same payload keys, so the codec agrees)."""
    env = stack_env(infra)
    return Settings.model_validate({k.removeprefix("ADX_").lower(): v for k, v in env.items()})


def mirror(queue: str) -> str:
    """The bare workflow's queue standing in for a real one (``<prefix>-noop-<service>``)."""
    prefix, _, service = queue.rpartition("-")
    return f"{prefix}-noop-{service}"


async def plan_of(temporal: Client, workflow_id: str) -> list[Step]:
    """The run's shape from its history: each activity scheduled (on the mirror of its queue)
    and each child started, an awaited child with its own shape, an abandoned one empty."""
    steps: list[Step] = []
    async for event in temporal.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            queue = event.activity_task_scheduled_event_attributes.task_queue.name
            steps.append(Step(mirror(queue)))
        elif event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            child = event.start_child_workflow_execution_initiated_event_attributes
            abandoned = child.parent_close_policy == ParentClosePolicy.PARENT_CLOSE_POLICY_ABANDON
            inner = [] if abandoned else await plan_of(temporal, child.workflow_id)
            steps.append(Step(mirror(child.task_queue.name), inner, abandoned))
    return steps


def queues_of(steps: list[Step]) -> set[str]:
    found = set()
    for step in steps:
        found.add(step.queue)
        found |= queues_of(step.children or [])
    return found


async def owner_and_tenant(
    infra: BenchInfra, temporal: Client, settings: Settings
) -> tuple[str, str]:
    """A verified owner and the tenant ``tenant_provisioning`` made for them."""
    (email,) = await create_verified_accounts(
        infra, 1, PASSWORD, lambda user_id: f"onboarding-owner-{user_id.hex[:12]}@example.com"
    )
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            owner = str(await conn.scalar(select(Credential.id).where(Credential.email == email)))
    finally:
        await engine.dispose()
    slug = f"ob-{uuid.uuid4().hex[:12]}"
    with acting_as(SecurityContext.for_user(owner)):
        handle = await temporal.start_workflow(
            TenantProvisioningWorkflow.run,
            TenantProvisioningInput(
                # Business: 500 seats (free has 5), more than one run's onboardings.
                slug=slug,
                name="Bench onboarding",
                owner_id=owner,
                plan=TenantPlan.BUSINESS.value,
            ),
            id=tenant_provisioning_workflow_id(slug),
            task_queue=settings.task_queue(ServiceName.tenant),
        )
    return owner, str((await handle.result()).tenant_id)


async def measure(infra: BenchInfra, args: argparse.Namespace) -> dict[str, Any]:
    settings = stack_settings(infra)
    temporal = await connect_temporal(settings)
    owner, tenant_id = await owner_and_tenant(infra, temporal, settings)
    last_run: list[str] = []

    async def onboard(_: int) -> None:
        person = uuid.uuid4().hex[:12]
        request = UserOnboardingInput(
            tenant_id=tenant_id,
            email=f"new-{person}@example.com",
            role="member",
            actor_id=owner,
            given_name="Bench",
            family_name=f"Person {person[:4]}",
            idempotency_key=f"bench-{person}",
        )
        with acting_as(SecurityContext.for_user(owner)):
            handle = await start_user_onboarding(
                temporal, request, task_queue=settings.task_queue(ServiceName.workflow)
            )
        try:
            await handle.result()
        except WorkflowFailureError as error:  # reported by its cause, not the wrapper's name
            raise OperationError(f"user_onboarding failed: {error.cause}") from error
        last_run[:] = [handle.id]

    results: dict[str, PhaseResult] = {}
    await onboard(0)  # one run before any timing: its history is the bare workflow's plan
    plan = Plan(await plan_of(temporal, last_run[0]))
    wait_until_quiet(10)
    results["user_onboarding"] = await drive(
        "user_onboarding",
        onboard,
        clients=args.clients,
        warmup=args.warmup,
        duration=args.duration,
        roles=infra.roles,
    )
    workers = [
        build_worker(
            temporal, settings, task_queue=queue, workflows=[NoopPlanWorkflow], activities=[noop]
        )
        for queue in sorted(
            queues_of(plan.steps) | {mirror(settings.task_queue(ServiceName.workflow))}
        )
    ]
    for worker in workers:
        await worker.__aenter__()
    try:

        async def bare(_: int) -> None:
            await temporal.execute_workflow(
                NoopPlanWorkflow.run,
                plan,
                id=f"bench-noop-plan-{uuid.uuid4().hex}",
                task_queue=mirror(settings.task_queue(ServiceName.workflow)),
            )

        wait_until_quiet(10)
        results["bare_workflow"] = await drive(
            "bare_workflow",
            bare,
            clients=args.clients,
            warmup=args.warmup,
            duration=args.duration,
            roles=infra.roles,
        )
    finally:
        for worker in reversed(workers):
            await worker.__aexit__(None, None, None)
    onboarding, baseline = results["user_onboarding"], results["bare_workflow"]
    p50_ratio = (
        onboarding.latency_ms(0.5) / baseline.latency_ms(0.5)
        if onboarding.latencies and baseline.latencies
        else None
    )
    return {
        "phases": {name: r.summary() for name, r in results.items()},
        "plan": _describe(plan.steps),
        "user_onboarding_vs_bare_workflow": {
            "p50_ratio": round(p50_ratio, 3) if p50_ratio else None,
            "target": P50_RATIO_TARGET,
            "met": bool(p50_ratio and p50_ratio <= P50_RATIO_TARGET),
        },
    }


def _describe(steps: list[Step]) -> list[Any]:
    return [
        step.queue.rpartition("-")[2]
        if step.children is None
        else {f"child on {step.queue.rpartition('-')[2]}": _describe(step.children)}
        for step in steps
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with infrastructure() as infra:
        began = time.monotonic()
        start_stack(infra, SERVICES)
        started = round(time.monotonic() - began, 1)
        figures = asyncio.run(measure(infra, args))
    figures["stack_start_seconds"] = started
    figures["machine"] = {"cpus": os.cpu_count()}
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as out:
            out.write(text + "\n")
    return 0 if figures["user_onboarding_vs_bare_workflow"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
