"""GraphQL types of workflow runs: what a mutation started, and how far it got."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON


@strawberry.enum(description="Lifecycle state of a workflow run.")
class WorkflowStatus(Enum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    TERMINATED = "TERMINATED"
    TIMED_OUT = "TIMED_OUT"


@strawberry.type(description="Where a workflow is, as reported by its `progress` query.")
class WorkflowProgress:
    step: int
    total: int
    label: str
    percent: int
    state: str


@strawberry.type(description="A workflow started by a mutation; follow it with `workflowProgress`.")
class WorkflowRun:
    id: strawberry.ID
    type: str
    status: WorkflowStatus
    progress: WorkflowProgress | None
    result: JSON | None = None
    error: str | None = None
    access_token: str | None = strawberry.field(
        default=None,
        description="Only from the mutation that started the run: pass it to `workflowRun` and "
        "`workflowProgress` to follow the run without signing in.",
    )

    @classmethod
    def from_state(cls, state: Any) -> WorkflowRun:
        """Build from a relay ``RunState``."""
        return cls(
            id=strawberry.ID(state.id),
            type=state.type,
            status=WorkflowStatus(state.status),
            progress=WorkflowProgress(**state.progress) if state.progress else None,
            result=state.result,
            error=state.error,
        )
