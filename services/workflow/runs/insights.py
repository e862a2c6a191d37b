"""Run insights per workflow type over a window: counts by status (visibility counts, exact),
duration p50/p95 and the top failure reasons (from a bounded sample of the listed runs), and
the same figures, platform-wide, as Prometheus gauges on the workflow service's ``/metrics``.

Failure reasons are stable names (an ``ApplicationError`` type such as ``EmailTaken``, else the
kind of the innermost cause), never messages, so they carry no data of anyone's."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistoryEventFilterType

from services.common.errors import InvalidInputError
from services.common.logging import get_logger
from services.workflow.runs.operations import count, failure_type, temporal_calls
from services.workflow.runs.scope import Scope, filter_query, literal
from services.workflow.schemas import FailureReason, Insights, RunFilter, TypeInsight

#: Runs listed at most to find the window's types and durations.
MAX_LISTED = 1000
#: Closed runs whose durations are kept per type.
MAX_DURATIONS = 200
#: Failed runs per type whose failure is read (one close event each).
MAX_FAILURES_READ = 20
TOP_FAILURES = 5
MAX_TYPES = 50
_log = get_logger(__name__)


def quantile(values: list[float], q: float) -> float | None:
    """The nearest-rank ``q`` quantile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q * len(ordered) + 0.5)))
    return round(ordered[rank - 1], 3)


async def _failure_reason(client: Client, workflow_id: str, run_id: str) -> str | None:
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    async for event in handle.fetch_history_events(
        event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT
    ):
        if event.HasField("workflow_execution_failed_event_attributes"):
            failure = event.workflow_execution_failed_event_attributes.failure
            error = await client.data_converter.decode_failure(failure)
            return failure_type(error)
        if event.HasField("workflow_execution_timed_out_event_attributes"):
            return "TimedOut"
    return None


async def insights(client: Client, scope: Scope, window_seconds: int) -> Insights:
    since = datetime.now(UTC) - timedelta(seconds=window_seconds)
    base = filter_query(scope, RunFilter(since=since))
    durations: dict[str, list[float]] = defaultdict(list)
    failed: dict[str, list[tuple[str, str]]] = defaultdict(list)
    types: Counter[str] = Counter()
    with temporal_calls("-", "insights"):
        async for run in client.list_workflows(base, limit=MAX_LISTED, page_size=200):
            types[run.workflow_type] += 1
            if (
                run.close_time
                and run.start_time
                and len(durations[run.workflow_type]) < (MAX_DURATIONS)
            ):
                seconds = (run.close_time - run.start_time).total_seconds()
                durations[run.workflow_type].append(max(seconds, 0.0))
            if (
                run.status == WorkflowExecutionStatus.FAILED
                and len(failed[run.workflow_type]) < MAX_FAILURES_READ
            ):
                failed[run.workflow_type].append((run.id, run.run_id))
        found: list[TypeInsight] = []
        for name, _ in types.most_common(MAX_TYPES):
            try:
                typed = f"{base} AND (WorkflowType = {literal(name)})"
            except InvalidInputError:
                continue  # a type name we do not put into a query
            total, by_status = await count(client, typed)
            reasons: Counter[str] = Counter()
            for workflow_id, run_id in failed[name]:
                reason = await _failure_reason(client, workflow_id, run_id)
                if reason:
                    reasons[reason] += 1
            found.append(
                TypeInsight(
                    type=name,
                    total=total,
                    by_status=by_status,
                    sampled_runs=len(durations[name]),
                    duration_p50_seconds=quantile(durations[name], 0.5),
                    duration_p95_seconds=quantile(durations[name], 0.95),
                    top_failures=[
                        FailureReason(reason=r, count=n)
                        for r, n in reasons.most_common(TOP_FAILURES)
                    ],
                )
            )
    return Insights(window_seconds=window_seconds, since=since, types=found)


class InsightMetrics(Collector):
    """The latest platform-wide insights as gauges (refreshed by :func:`refresh_forever`, and
    whenever an operator asks for insights)."""

    def __init__(self) -> None:
        self.latest: Insights | None = None

    def collect(self) -> Iterator[Metric]:
        runs = GaugeMetricFamily(
            "adx_workflow_runs",
            "Workflow runs started in the insight window, by type and status",
            labels=["type", "status"],
        )
        duration = GaugeMetricFamily(
            "adx_workflow_run_duration_seconds",
            "Duration of closed runs in the insight window (sampled), by type and quantile",
            labels=["type", "quantile"],
        )
        failures = GaugeMetricFamily(
            "adx_workflow_run_failures",
            "Top failure reasons of runs in the insight window (sampled), by type and reason",
            labels=["type", "reason"],
        )
        for item in self.latest.types if self.latest else []:
            for status in item.by_status:
                runs.add_metric([item.type, status.status.value], status.count)
            for q, value in (
                ("0.5", item.duration_p50_seconds),
                ("0.95", item.duration_p95_seconds),
            ):
                if value is not None:
                    duration.add_metric([item.type, q], value)
            for failure in item.top_failures:
                failures.add_metric([item.type, failure.reason], failure.count)
        yield runs
        yield duration
        yield failures


#: The window of the gauges.
METRICS_WINDOW_SECONDS = 3600


async def refresh_forever(client: Client, metrics: InsightMetrics, every_seconds: float) -> None:
    operator = Scope(
        user_id="system",
        operator=True,
        tenant_id=None,
        can_read_tenant=False,
        can_manage_tenant=False,
    )
    while True:
        try:
            metrics.latest = await insights(client, operator, METRICS_WINDOW_SECONDS)
        except Exception as error:  # a refresh must never stop refreshing
            _log.warning("workflow_insights_refresh_failed", error=str(error))
        await asyncio.sleep(every_seconds)
