"""The cost estimates of the run management lists (schema/cost.py): a page counts ``first``
times, the insight lists their known bounds (``LIST_SIZES``), so the largest legal requests fit
under the default limit and a bigger page does not."""

from __future__ import annotations

from graphql import OperationDefinitionNode, parse

from schema.cost import estimate_cost
from schema.limits import DEFAULT_MAX_COST
from schema.schema import build_schema
from tests.workflow.graphql.runs_graphql import BATCH, INSIGHTS, RUNS

SCHEMA = build_schema(mask_errors=False)._schema


def cost(query: str, **variables: object) -> int:
    operation = parse(query).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return estimate_cost(SCHEMA, operation, {}, variables)


def test_a_page_of_runs_costs_first_times_its_fields() -> None:
    one, hundred = cost(RUNS, first=1), cost(RUNS, first=100)
    assert hundred - one == 99 * (one - 1)  # all but the root field counts per item
    assert hundred <= DEFAULT_MAX_COST < cost(RUNS, first=1000)


def test_insights_count_their_bounded_lists() -> None:
    # 2 fields + types (50 of: 5 leaves, byStatus 7 x 2, topFailures 5 x 2) + the root field.
    assert cost(INSIGHTS, window=3600) == 1 + 2 + 1 + 50 * (5 + 1 + 7 * 2 + 1 + 5 * 2)
    assert cost(INSIGHTS, window=3600) <= DEFAULT_MAX_COST


def test_a_batch_counts_its_hundred_items() -> None:
    assert cost(BATCH, input={}) == 1 + 3 + 1 + 100 * 5
