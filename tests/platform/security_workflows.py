"""Test-only workflows that report the security context their activities see, after a
continue-as-new, in a local activity and in a child workflow (no product workflow uses those yet,
the interceptor must carry the context there all the same), and a rogue workflow that asks the
real activities for whatever it is told (tests/platform/test_activity_rules.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import structlog

    from services.common.security_context import current_context

WHOAMI = "test.security.whoami"
_TIMEOUT = timedelta(seconds=10)


@activity.defn(name=WHOAMI)
async def whoami() -> dict[str, Any]:
    """The context this activity runs under (``{}`` for none), and the actor fields its log
    lines carry (``log``)."""
    context = current_context()
    bound = structlog.contextvars.get_contextvars()
    log = {k: v for k, v in bound.items() if k.startswith("actor") or k == "origin_request_id"}
    return {**(context.to_dict() if context else {}), "log": log}


@workflow.defn(name="test_security_child")
class ChildWorkflow:
    @workflow.run
    async def run(self) -> dict[str, Any]:
        return await workflow.execute_activity(WHOAMI, start_to_close_timeout=_TIMEOUT)  # type: ignore[no-any-return]


@workflow.defn(name="test_security_parent")
class ParentWorkflow:
    @workflow.run
    async def run(self, hops: int) -> dict[str, dict[str, Any]]:
        if hops > 0:
            workflow.continue_as_new(hops - 1)
        info = workflow.info()
        return {
            "activity": await workflow.execute_activity(WHOAMI, start_to_close_timeout=_TIMEOUT),
            "local_activity": await workflow.execute_local_activity(
                WHOAMI, start_to_close_timeout=_TIMEOUT
            ),
            "child": await workflow.execute_child_workflow(
                ChildWorkflow.run, id=f"{info.workflow_id}-child", task_queue=info.task_queue
            ),
        }


#: Placeholders in step inputs: the rogue run's ``<workflow id>:<run id>``, its workflow id, and
#: the ``token`` of the latest step result that had one.
ROGUE_RUN, ROGUE_WORKFLOW, LAST_TOKEN = "{run}", "{workflow}", "{token}"


@dataclass
class Step:
    activity: str
    input: dict[str, Any]


@dataclass
class Outcome:
    """An activity's result, or the type and message of its failure."""

    result: Any = None
    error_type: str | None = None
    message: str | None = None


def _filled(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        for placeholder, text in values.items():
            value = value.replace(placeholder, text)
        return value
    if isinstance(value, dict):
        return {k: _filled(v, values) for k, v in value.items()}
    return value


@workflow.defn(dynamic=True, sandboxed=False)
class RogueWorkflow:
    """Whatever workflow type it is started as (``user_registration``, ``password_reset``...),
    it runs the activities it is given with the inputs it is given: what a buggy or hostile
    workflow could ask of the activities, under the header its starter sealed."""

    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> list[Outcome]:
        steps = [
            Step(**raw) for raw in workflow.payload_converter().from_payload(args[0].payload, list)
        ]
        info = workflow.info()
        values = {ROGUE_RUN: f"{info.workflow_id}:{info.run_id}", ROGUE_WORKFLOW: info.workflow_id}
        outcomes = []
        for step in steps:
            try:
                result = await workflow.execute_activity(
                    step.activity,
                    _filled(step.input, values),
                    start_to_close_timeout=_TIMEOUT,
                    retry_policy=RetryPolicy(maximum_attempts=1),
                )
                outcomes.append(Outcome(result=result))
                if isinstance(result, dict) and result.get("token"):
                    values[LAST_TOKEN] = result["token"]
            except ActivityError as error:
                cause = error.cause
                kind = cause.type if isinstance(cause, ApplicationError) else type(cause).__name__
                outcomes.append(Outcome(error_type=kind, message=str(cause)))
        return outcomes
