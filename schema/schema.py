"""Root types and the schema with its protective extensions (depth, tokens, aliases, masking)."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)

from schema.cost import QueryCostLimiter
from schema.error_logging import LoggedErrorsSchema
from schema.errors import is_user_facing
from schema.extensions import (
    CachedDocuments,
    FreshLoaders,
    NoSuggestions,
    ServiceUnavailableErrors,
)
from schema.limits import DEFAULT_MAX_COST, MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from schema.metrics import GraphQLMetrics, operation_metrics
from schema.roots.auth import AuthMutation, AuthQuery
from schema.roots.compliance import ComplianceMutation
from schema.roots.file_migration import FileMigrationMutation
from schema.roots.file_shares import FileShareMutation, FileShareQuery
from schema.roots.files import FileMutation, FileQuery
from schema.roots.reconciliation import ReconciliationMutation
from schema.roots.tenants import TenantMutation, TenantQuery
from schema.roots.users import UserMutation, UserQuery
from schema.roots.workflow_runs import (
    WorkflowRunMutation,
    WorkflowRunQuery,
    WorkflowRunSubscription,
)

#: Each domain's root pieces (``schema/roots/<domain>.py``); a new domain adds its own here.
QUERIES: tuple[type, ...] = (
    UserQuery,
    WorkflowRunQuery,
    AuthQuery,
    TenantQuery,
    FileQuery,
    FileShareQuery,
)
MUTATIONS: tuple[type, ...] = (
    AuthMutation,
    TenantMutation,
    UserMutation,
    WorkflowRunMutation,
    FileMutation,
    FileMigrationMutation,
    FileShareMutation,
    ReconciliationMutation,
    ComplianceMutation,
)
SUBSCRIPTIONS: tuple[type, ...] = (WorkflowRunSubscription,)


def merged(name: str, pieces: tuple[type, ...]) -> type:
    """One root type from the domains' pieces; two domains naming the same field is an error
    (``strawberry.tools.merge_types`` would only warn, and one would silently win)."""
    seen: dict[str, str] = {}
    for piece in pieces:
        for field in piece.__strawberry_definition__.fields:  # type: ignore[attr-defined]
            if field.name in seen:
                raise TypeError(
                    f"{name}.{field.name} is declared by {seen[field.name]} and {piece.__name__}"
                )
            seen[field.name] = piece.__name__
    return strawberry.type(type(name, pieces, {}))


Query = merged("Query", QUERIES)
Mutation = merged("Mutation", MUTATIONS)
Subscription = merged("Subscription", SUBSCRIPTIONS)


def build_schema(
    *,
    mask_errors: bool,
    introspection: bool = True,
    suggestions: bool = True,
    max_cost: int = DEFAULT_MAX_COST,
    metrics: GraphQLMetrics | None = None,
) -> strawberry.Schema:
    """The gateway's schema. ``introspection=False`` refuses ``__schema``/``__type`` (a
    validation error; ``__typename`` stays); ``suggestions=False`` strips "Did you mean ...?"
    from error messages. Outages are ``SERVICE_UNAVAILABLE`` whatever ``mask_errors`` says."""
    # The depth and alias rules are classes made by their limiters: made once here, so every
    # request validates with the same rule set and its validation is cached (CachedDocuments).
    rules = [
        *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
        *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
    ]
    if not introspection:
        rules.extend(DisableIntrospection().validation_rules)
    # Classes or factories, not instances: Strawberry builds a fresh extension per request.
    extensions: list = [
        FreshLoaders,
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: AddValidationRules(rules),
        # Before CachedDocuments: the estimate reads the variables, so it runs every time.
        lambda: QueryCostLimiter(max_cost),
        CachedDocuments,
    ]
    if metrics is not None:  # per root field: count, errors, latency (schema/metrics.py)
        extensions.insert(0, operation_metrics(metrics))
    if mask_errors:
        extensions.append(lambda: MaskErrors(should_mask_error=lambda e: not is_user_facing(e)))
    # After MaskErrors: extensions finish in reverse order, so outages are renamed before
    # masking would turn them into "Unexpected error.".
    extensions.append(ServiceUnavailableErrors)
    if not suggestions:
        extensions.append(NoSuggestions)
    return LoggedErrorsSchema(
        query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions
    )
