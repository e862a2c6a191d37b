"""Root types and the schema with its protective extensions (depth, tokens, aliases, masking)."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)

from resolvers.sign_up import resolve_sign_up
from resolvers.users import resolve_user
from resolvers.workflow_runs import resolve_workflow_run, subscribe_workflow_progress
from schema.errors import is_user_facing
from schema.types import User, WorkflowRun

MAX_DEPTH = 10
MAX_TOKENS = 2000
MAX_ALIASES = 15


@strawberry.type
class Query:
    user: User | None = strawberry.field(resolver=resolve_user, description="A user by id.")
    workflow_run: WorkflowRun = strawberry.field(
        resolver=resolve_workflow_run, description="A workflow run's current state."
    )


@strawberry.type
class Mutation:
    sign_up: WorkflowRun = strawberry.mutation(
        resolver=resolve_sign_up, description="Start registering a new user (a workflow)."
    )


@strawberry.type
class Subscription:
    workflow_progress: WorkflowRun = strawberry.subscription(  # type: ignore[assignment]
        resolver=subscribe_workflow_progress,
        description="Progress of a workflow run until it completes, fails or is cancelled.",
    )


def build_schema(*, mask_errors: bool) -> strawberry.Schema:
    extensions: list = [
        QueryDepthLimiter(max_depth=MAX_DEPTH),
        MaxTokensLimiter(max_token_count=MAX_TOKENS),
        MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
    ]
    if mask_errors:
        extensions.append(MaskErrors(should_mask_error=lambda e: not is_user_facing(e)))
    return strawberry.Schema(
        query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions
    )
