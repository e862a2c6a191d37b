"""Temporal SDK metrics on the process's ``/metrics``, and the server of ``ADX_METRICS_PORT``.

One Temporal ``Runtime`` per process records Core's metrics (workflow/activity completions,
latencies, poller and slot gauges) into a ``MetricBuffer``; ``TemporalMetrics`` drains it into
Prometheus series (a daemon thread drains every second so the buffer never fills; a scrape
drains first, so it is always current). See docs/observability.md.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import re
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_HISTOGRAM,
    BufferedMetricUpdate,
    MetricBuffer,
    MetricBufferDurationFormat,
    Runtime,
    TelemetryConfig,
)

#: Histogram bounds in seconds (Temporal's histograms are latencies, reported in seconds).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, math.inf)
BUFFER_SIZE = 100_000
DRAIN_INTERVAL_SECONDS = 1.0

Labels = tuple[tuple[str, str], ...]


def _labels(attributes: Mapping[str, object]) -> Labels:
    return tuple(sorted((re.sub(r"\W", "_", k), str(v)) for k, v in attributes.items()))


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    total: float = 0.0

    def observe(self, value: float) -> None:
        self.total += value
        for i, bound in enumerate(BUCKETS):
            if value <= bound:
                self.counts[i] += 1


@dataclass
class _Family:
    name: str
    help: str
    kind: int
    values: dict[Labels, float] = field(default_factory=dict)
    histograms: dict[Labels, _Histogram] = field(default_factory=dict)

    def apply(self, labels: Labels, value: float) -> None:
        if self.kind == BUFFERED_METRIC_KIND_HISTOGRAM:
            self.histograms.setdefault(labels, _Histogram()).observe(value)
        elif self.kind == BUFFERED_METRIC_KIND_COUNTER:  # counter updates are deltas
            self.values[labels] = self.values.get(labels, 0.0) + value
        else:
            self.values[labels] = value

    def metric(self) -> Metric:
        if self.kind == BUFFERED_METRIC_KIND_HISTOGRAM:
            family = Metric(self.name, self.help, "histogram")
            for labels, hist in self.histograms.items():
                for bound, count in zip(BUCKETS, hist.counts, strict=True):
                    le = "+Inf" if math.isinf(bound) else repr(float(bound))
                    family.add_sample(f"{self.name}_bucket", {**dict(labels), "le": le}, count)
                family.add_sample(f"{self.name}_count", dict(labels), hist.counts[-1])
                family.add_sample(f"{self.name}_sum", dict(labels), hist.total)
            return family
        if self.kind == BUFFERED_METRIC_KIND_COUNTER:
            family = Metric(self.name, self.help, "counter")
            suffix = "" if family.name != self.name else "_total"
            for labels, value in self.values.items():
                family.add_sample(f"{self.name}{suffix}", dict(labels), value)
            return family
        family = Metric(self.name, self.help, "gauge")
        for labels, value in self.values.items():
            family.add_sample(self.name, dict(labels), value)
        return family


class TemporalMetrics(Collector):
    """A Prometheus collector over a Temporal ``MetricBuffer``."""

    def __init__(self, buffer: MetricBuffer) -> None:
        self._buffer = buffer
        self._lock = threading.Lock()
        self._families: dict[str, _Family] = {}

    def drain(self) -> None:
        with self._lock:
            for update in self._buffer.retrieve_updates():
                self._apply(update)

    def _apply(self, update: BufferedMetricUpdate) -> None:
        metric = update.metric
        family = self._families.get(metric.name)
        if family is None:
            help_text = metric.description or metric.name
            family = _Family(metric.name, help_text, metric.kind)
            self._families[metric.name] = family
        family.apply(_labels(update.attributes), float(update.value))

    def collect(self) -> Iterator[Metric]:
        self.drain()
        with self._lock:
            families = [family.metric() for family in self._families.values()]
        yield from families

    def start_draining(self) -> None:
        """Drain every second on a background thread until the interpreter exits.

        The thread is stopped and joined at exit: a thread still inside Temporal Core while the
        interpreter finalizes aborts the process (PyGILState_Release), turning a clean exit
        status into 134.
        """
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(DRAIN_INTERVAL_SECONDS):
                self.drain()

        thread = threading.Thread(target=loop, name="temporal-metrics-drain", daemon=True)
        thread.start()

        def halt() -> None:
            stop.set()
            thread.join(timeout=5)

        atexit.register(halt)


_lock = threading.Lock()
_runtime: tuple[Runtime, TemporalMetrics] | None = None


def _process_runtime() -> tuple[Runtime, TemporalMetrics]:
    global _runtime
    with _lock:
        if _runtime is None:
            buffer = MetricBuffer(BUFFER_SIZE, MetricBufferDurationFormat.SECONDS)
            runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
            metrics = TemporalMetrics(buffer)
            metrics.start_draining()
            _runtime = (runtime, metrics)
        return _runtime


def temporal_runtime() -> Runtime:
    """The process's Temporal runtime (created on first use, before any client connects)."""
    return _process_runtime()[0]


def temporal_metrics() -> TemporalMetrics:
    """The collector of this process's Temporal SDK metrics (register it in a registry)."""
    return _process_runtime()[1]


def worker_registry() -> CollectorRegistry:
    """The registry of a process without an HTTP app (``--mode worker``): the Temporal series."""
    registry = CollectorRegistry()
    registry.register(temporal_metrics())
    return registry


def serve_metrics(host: str, port: int, registry: CollectorRegistry) -> Callable[[], None]:
    """Serve ``registry`` (Prometheus text at ``/metrics``) on ``ADX_METRICS_PORT``, on
    prometheus_client's own threaded server, away from the API port; returns the function that
    stops it. Raises ``OSError`` when the port cannot be bound."""
    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return stop


class ResourceMetrics(Collector):
    """The process's database pool and Redis connection pool as gauges, read at each scrape
    (SQLAlchemy's ``QueuePool`` counters and redis-py's pool lists: no I/O, nothing to block)."""

    def __init__(
        self, service: str, engine: AsyncEngine | None, redis: Redis, data_dir: Path
    ) -> None:
        self.service = service
        self.engine = engine
        self.redis = redis
        self.data_dir = data_dir

    def collect(self) -> Iterator[Metric]:
        labels = ["service"]
        size = GaugeMetricFamily("adx_db_pool_size", "Database pool size (steady).", labels=labels)
        out = GaugeMetricFamily(
            "adx_db_pool_checked_out", "Database connections in use.", labels=labels
        )
        idle = GaugeMetricFamily(
            "adx_db_pool_checked_in", "Database connections idle in the pool.", labels=labels
        )
        overflow = GaugeMetricFamily(
            "adx_db_pool_overflow",
            "Connections beyond the pool size (negative: not yet opened up to the size).",
            labels=labels,
        )
        if self.engine is not None:
            pool = self.engine.sync_engine.pool
            if isinstance(pool, QueuePool):
                size.add_metric([self.service], pool.size())
                out.add_metric([self.service], pool.checkedout())
                idle.add_metric([self.service], pool.checkedin())
                overflow.add_metric([self.service], pool.overflow())
        redis_in_use = GaugeMetricFamily(
            "adx_redis_pool_in_use", "Redis connections in use.", labels=labels
        )
        redis_idle = GaugeMetricFamily(
            "adx_redis_pool_available", "Redis connections idle in the pool.", labels=labels
        )
        redis_max = GaugeMetricFamily(
            "adx_redis_pool_max", "Redis pool's connection limit.", labels=labels
        )
        pool_ = self.redis.connection_pool
        redis_in_use.add_metric([self.service], len(getattr(pool_, "_in_use_connections", ())))
        redis_idle.add_metric([self.service], len(getattr(pool_, "_available_connections", ())))
        redis_max.add_metric([self.service], float(pool_.max_connections))
        yield from (size, out, idle, overflow, redis_in_use, redis_idle, redis_max)
        yield from self._disk()

    def _disk(self) -> Iterator[Metric]:
        """Free space of the volume holding the data directory (local blobs, logs; one
        ``statvfs``): the disk alert's series where no node exporter runs."""
        free = GaugeMetricFamily(
            "adx_disk_free_bytes", "Free bytes on the data directory's volume.", labels=["service"]
        )
        total = GaugeMetricFamily(
            "adx_disk_size_bytes", "Size of the data directory's volume.", labels=["service"]
        )
        path = self.data_dir if self.data_dir.exists() else Path(".")
        with contextlib.suppress(OSError):
            usage = shutil.disk_usage(path)
            free.add_metric([self.service], usage.free)
            total.add_metric([self.service], usage.total)
        yield from (free, total)


class DependencyChecks:
    """Readiness check latency and outcome per dependency (``/health/ready``: Temporal,
    PostgreSQL, Redis); a Redis ping's latency is the ``dependency="redis"`` histogram."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.service = service
        self.latency = Histogram(
            "adx_dependency_check_seconds",
            "Readiness check latency per dependency.",
            ["service", "dependency"],
            registry=registry,
        )
        self.up = Gauge(
            "adx_dependency_up",
            "Whether the last readiness check of the dependency succeeded.",
            ["service", "dependency"],
            registry=registry,
        )

    def observe(self, dependency: str, seconds: float, ok: bool) -> None:
        self.latency.labels(self.service, dependency).observe(seconds)
        self.up.labels(self.service, dependency).set(1 if ok else 0)
