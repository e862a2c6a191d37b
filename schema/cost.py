"""Query cost limit: an estimate of how much an operation asks for, checked before it runs
(with depth, token and alias limits, ``schema/limits.py``).

Every field costs 1 for each time it may be resolved: a field inside a paginated field
(``first``) counts ``first`` times (the argument's value, from the query, its variables or the
schema's default), inside a list without ``first`` its known bound (``LIST_SIZES``) or else
``DEFAULT_LIST_SIZE`` times; the connection's own ``edges`` list does not multiply again. Over ``ADX_GRAPHQL_MAX_COST`` the operation is
refused before any resolver runs, with ``extensions.code`` ``QUERY_TOO_COSTLY`` and the
estimate (``cost``, ``maxCost``): ``first: 100`` nested three deep is 10^6 and more."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
)
from strawberry.extensions import SchemaExtension

QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
#: How many items a list without ``first`` is assumed to hold.
DEFAULT_LIST_SIZE = 10
#: Lists without ``first`` whose bound is known (``Type.field``): counted at that size.
LIST_SIZES: Mapping[str, int] = {
    # services/workflow/runs/insights.py: MAX_TYPES types, seven statuses, TOP_FAILURES reasons
    "WorkflowInsights.types": 50,
    "WorkflowTypeInsight.byStatus": 7,
    "WorkflowTypeInsight.topFailures": 5,
    # a batch acts on at most MAX_PAGE runs (services/workflow/schemas.py)
    "WorkflowBatchResult.items": 100,
    # schema/files.py: a handful of sizes once processing makes them (none today)
    "File.thumbnails": 4,
    # services/file/schemas.py UploadPlan: a tus creation request's three headers at most
    "UploadTarget.headers": 3,
}
PAGE_ARGUMENT = "first"


class _Estimate:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def selections(
        self,
        selection_set: SelectionSetNode,
        parent: Any,
        times: int,
        sized: bool,
        seen: frozenset[str],
    ) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, times, sized, seen)
            elif isinstance(selection, InlineFragmentNode):
                inner = parent
                if selection.type_condition is not None:
                    inner = self.schema.get_type(selection.type_condition.name.value) or parent
                total += self.selections(selection.selection_set, inner, times, sized, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:  # unknown or cyclic: validation says so
                    continue
                inner = self.schema.get_type(fragment.type_condition.name.value) or parent
                total += self.selections(fragment.selection_set, inner, times, sized, seen | {name})
        return total

    def field(
        self, node: FieldNode, parent: Any, times: int, sized: bool, seen: frozenset[str]
    ) -> int:
        if node.selection_set is None:
            return times
        definition = (
            parent.fields.get(node.name.value) if isinstance(parent, GraphQLObjectType) else None
        )
        if definition is None:
            return times
        first = self.page_size(node, definition)
        inner_times, inner_sized = times, False
        if first is not None:
            inner_times, inner_sized = times * first, True
        elif f"{parent.name}.{node.name.value}" in LIST_SIZES:
            inner_times = times * LIST_SIZES[f"{parent.name}.{node.name.value}"]
        elif isinstance(get_nullable_type(definition.type), GraphQLList) and not sized:
            inner_times = times * DEFAULT_LIST_SIZE
        inner = get_named_type(definition.type)
        return times + self.selections(node.selection_set, inner, inner_times, inner_sized, seen)

    def page_size(self, node: FieldNode, definition: Any) -> int | None:
        argument = definition.args.get(PAGE_ARGUMENT)
        if argument is None:
            return None
        value: Any = argument.default_value
        for given in node.arguments or ():
            if given.name.value != PAGE_ARGUMENT:
                continue
            if isinstance(given.value, IntValueNode):
                value = int(given.value.value)
            elif isinstance(given.value, VariableNode):
                value = self.variables.get(given.value.name.value, value)
        return max(1, value) if isinstance(value, int) else DEFAULT_LIST_SIZE


def estimate_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any] | None = None,
) -> int:
    root = schema.get_root_type(operation.operation)
    return _Estimate(schema, fragments, variables or {}).selections(
        operation.selection_set, root, 1, False, frozenset()
    )


class QueryCostLimiter(SchemaExtension):
    """Refuses an operation whose estimated cost is over ``max_cost`` before validation runs
    (so an expensive document gets this one error, not a validation pass first)."""

    def __init__(self, max_cost: int) -> None:
        self.max_cost = max_cost

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            chosen = [
                op
                for op in operations
                if context.operation_name is None
                or (op.name is not None and op.name.value == context.operation_name)
            ]
            if len(chosen) >= 1:
                cost = estimate_cost(
                    context.schema._schema, chosen[0], fragments, context.variables
                )
                if cost > self.max_cost:
                    context.pre_execution_errors = [
                        GraphQLError(
                            f"This operation's estimated cost is {cost}, over the limit of "
                            f"{self.max_cost}: ask for fewer items per page (first) or nest "
                            "fewer lists.",
                            extensions={
                                "code": QUERY_TOO_COSTLY,
                                "cost": cost,
                                "maxCost": self.max_cost,
                            },
                        )
                    ]
        yield
