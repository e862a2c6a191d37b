"""Test-only workflows that report the security context their activities see, after a
continue-as-new, in a local activity and in a child workflow (no product workflow uses those yet,
the interceptor must carry the context there all the same)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import activity, workflow

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
