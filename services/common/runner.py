"""Dual-mode process runner: the FastAPI app and the Temporal worker share one asyncio loop."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import uvicorn
import uvloop
from fastapi import FastAPI

from services.common.app import create_app
from services.common.feature import Feature, activities_of, routers_of, workflows_of
from services.common.logging import configure_logging, get_logger
from services.common.metrics import serve_metrics, worker_registry
from services.common.resources import Resources
from services.common.settings import (
    ServiceName,
    Settings,
    check_production_settings,
    load_settings,
)
from services.common.temporal import TemporalUnavailableError, build_worker
from services.common.tracing import shutdown_tracing
from services.common.worker_versioning import deployment_version, set_current


class Mode(StrEnum):
    http = "http"
    worker = "worker"
    both = "both"


@dataclass(frozen=True)
class ServiceSpec:
    """A service is its features (``services/common/feature.py``): their routes on its HTTP
    port, their workflows and activities on its task queue. ``app_factory`` builds the app
    instead when a service adds more than routes (state, middleware); it mounts
    ``routers_of(features)`` itself."""

    name: ServiceName
    title: str
    features: Sequence[Feature] = ()
    app_factory: Callable[[Resources], FastAPI] | None = field(default=None)

    @property
    def workflows(self) -> list[type]:
        return workflows_of(self.features)

    def activities(self, resources: Resources) -> list[Callable[..., Any]]:
        return activities_of(self.features, resources)

    def build_app(self, resources: Resources) -> FastAPI:
        if self.app_factory is not None:
            return self.app_factory(resources)
        return create_app(resources, title=self.title, routers=routers_of(self.features))


class _Server(uvicorn.Server):
    """uvicorn server that leaves signal handling to the runner (which also stops the worker)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def parse_mode(argv: Sequence[str] | None = None) -> Mode:
    parser = argparse.ArgumentParser(description="Run an ADX CORE service process.")
    parser.add_argument(
        "--mode",
        choices=[m.value for m in Mode],
        default=Mode.both.value,
        help="http: API only; worker: Temporal worker only; both (default): one process, one loop",
    )
    return Mode(parser.parse_args(argv).mode)


async def serve(spec: ServiceSpec, mode: Mode, settings: Settings) -> None:
    log = get_logger("adx.runner")
    resources = await Resources.open(settings, spec.name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    tasks: list[asyncio.Task[Any]] = []
    server: _Server | None = None
    worker = None
    promotion: asyncio.Task[None] | None = None
    app = spec.build_app(resources) if mode in (Mode.http, Mode.both) else None
    port = settings.http_port or settings.port_of(spec.name)
    stop_metrics = None
    if settings.metrics_port is not None:
        # The process's whole registry (the app's HTTP series, which include the Temporal
        # collector; the Temporal series alone without an app) on its own port. The API port
        # has no /metrics then (services/common/principal.py `protect`).
        registry = app.state.metrics.registry if app is not None else worker_registry()
        try:
            if app is not None and settings.metrics_port == port:
                raise ValueError("ADX_METRICS_PORT must differ from the HTTP port")
            stop_metrics = serve_metrics(settings.http_host, settings.metrics_port, registry)
        except (OSError, ValueError) as error:  # port taken, not bindable, or the API port
            log.error("metrics_failed", port=settings.metrics_port, error=str(error))
            await resources.close()
            raise SystemExit(1) from error
        url = f"http://{settings.http_host}:{settings.metrics_port}/metrics"
        log.info("metrics_started", url=url, mode=mode.value)
    if app is not None:
        config = uvicorn.Config(
            app,
            host=settings.http_host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            ws="websockets-sansio",
        )
        server = _Server(config)
        tasks.append(asyncio.create_task(server.serve(), name="http"))
        log.info("http_started", url=f"http://{settings.http_host}:{port}", mode=mode.value)
    activities = spec.activities(resources)
    if mode in (Mode.worker, Mode.both) and not (spec.workflows or activities):
        # Temporal refuses a worker with nothing to run; say so instead of failing.
        log.info("worker_idle", reason="no workflows or activities registered yet")
    elif mode in (Mode.worker, Mode.both):
        worker = build_worker(
            resources.temporal,
            settings,
            task_queue=settings.task_queue(spec.name),
            workflows=spec.workflows,
            activities=activities,
        )
        tasks.append(asyncio.create_task(worker.run(), name="worker"))
        version = deployment_version(settings, settings.task_queue(spec.name))
        log.info(
            "worker_started",
            task_queue=settings.task_queue(spec.name),
            mode=mode.value,
            build_id=version.build_id if version else None,
        )
        if version is not None and settings.worker_set_current:
            # Once this version polls, it takes the deployment's new runs (older versions
            # keep their pinned runs until those close). Not one of ``tasks``: its end is no
            # reason to stop, and a failure leaves the worker serving the versions it has.
            promotion = asyncio.create_task(
                set_current(resources.temporal, version, identity=f"adx-{spec.name.value}"),
                name="worker-version",
            )
            promotion.add_done_callback(_log_promotion)
    if not tasks:
        tasks.append(asyncio.create_task(stop.wait(), name="idle"))

    stopper = asyncio.create_task(stop.wait(), name="stop")
    done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    failed = [t for t in done if t is not stopper and t.exception() is not None]
    for task in failed:
        log.error("component_failed", component=task.get_name(), error=repr(task.exception()))
    log.info("shutting_down")
    # Stop taking new work first; the worker lets running activities finish (graceful timeout).
    if server is not None:
        server.should_exit = True
    if promotion is not None:
        promotion.cancel()
    if worker is not None and not worker.is_shutdown:
        await worker.shutdown()
    await asyncio.gather(*tasks, return_exceptions=True)
    stopper.cancel()
    await resources.close()
    await asyncio.to_thread(shutdown_tracing)  # flush the last spans
    if stop_metrics is not None:
        await asyncio.to_thread(stop_metrics)
    log.info("stopped")
    if failed:
        raise SystemExit(1)


def _log_promotion(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        get_logger("adx.runner").error(
            "worker_version_not_made_current", error=repr(task.exception())
        )


def main(spec: ServiceSpec, argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m services.<name>``."""
    mode = parse_mode(argv)
    settings = load_settings()
    check_production_settings(settings, [spec.name])
    configure_logging(settings, spec.name.value)
    if settings.outbox_in_production(spec.name):
        get_logger("adx.runner").warning(
            "mail_outbox_in_production",
            setting="ADX_MAIL_BACKEND",
            detail=f"e-mails are written to {settings.outbox_dir()} and never delivered",
        )
    try:
        # uvloop: the same asyncio API on libuv, a cheaper loop for every request and activity.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(spec, mode, settings))
    except TemporalUnavailableError as error:
        get_logger("adx.runner").error("temporal_unavailable", error=str(error))
        print(f"error: {error}", file=sys.stderr)
        _exit_now(3)


def _exit_now(status: int) -> None:
    """Exit without interpreter finalization.

    After a failed connect, Temporal Core's native threads may still be winding down; if one
    touches the interpreter while it finalizes, the process aborts (exit 134) instead of
    reporting ``status``. Nothing is left to clean up on this path, so skip finalization.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(status)
