"""Bulk import rows/s (``make bench-user-bulk``, or ``python -m bench.user_bulk [--rows 10000]
[--batch-size 1000] [--json out.json] [--profile PREFIX]``).

The auth, user, tenant and file services run as processes (HTTP and workers, as in production);
a tenant is provisioned through ``POST /tenants`` (its seat quota raised to fit the rows), its
owner signs in to it, and one CSV of ``--rows`` new people is uploaded to
``POST /users/bulk/operations?operation=import``. ``bulk_user_operation`` runs the import batched
(``bulk-import-batched``: per batch of ``--batch-size`` rows, cut into up to four chunks run at
once, one activity per service and chunk for the accounts, memberships, claims, user rows,
welcome mails, then a ``bulk_password_links`` run per chunk for the set-password links). Measured: the
upload's answer time; rows/s from the upload to the operation's ``completed`` (its status read
straight from PostgreSQL every 0.5 s, so the polling costs the services nothing; the report is
read once at the end); the CPU seconds per 1,000 rows of each process (``bench/load.py``
``CpuSnapshot``: less sensitive to a shared machine than the wall time; PostgreSQL and Redis
are the machine's servers, shared); the load average before and after; and, from the run's
history (every continue-as-new run), per activity type its count, mean run time and mean wait
for a worker, and the workflow tasks' count and mean time.

Target: at least 500 rows/s on the 2-core machine. Not a test: it measures and reports."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.argon2_rate import PASSWORD
from bench.infra import BenchInfra, create_verified_accounts, infrastructure
from bench.load import CpuSnapshot
from bench.sampling import profiled
from bench.tenant_create import start_stack
from services.common.settings import ServiceName
from services.common.temporal import connect_temporal

TARGET_ROWS_PER_SECOND = 500
#: The services ``--profile`` runs under cProfile.
PROFILED = (ServiceName.user, ServiceName.auth, ServiceName.tenant)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--parallelism", type=int, default=20, help="ADX_USER_BULK_PARALLELISM")
    parser.add_argument("--batch-size", type=int, default=1000, help="ADX_USER_BULK_BATCH_SIZE")
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after (seconds)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--profile",
        help="run the user, auth and tenant services under cProfile (event-loop thread CPU) and "
        "write <PROFILE>-<service>-import.pstats (the figures are then not the benchmark's)",
    )
    return parser.parse_args(argv)


def _stats(args: argparse.Namespace, service: ServiceName) -> str:
    return f"{args.profile}-{service.value}.pstats"


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def csv_rows(count: int) -> bytes:
    run = uuid.uuid4().hex[:8]
    lines = ["email,display_name,given_name,family_name,locale"]
    lines += [f"bulk-{run}-{i}@example.com,Person {i},Person,N{i},en" for i in range(count)]
    return ("\n".join(lines) + "\n").encode()


async def _login(auth: str, address: str, tenant_id: str) -> str:
    """The owner's access token in the tenant (again when one expires during a long run)."""
    async with httpx.AsyncClient(timeout=60) as http:
        login = await http.post(
            f"{auth}/auth/login",
            json={"email": address, "password": PASSWORD, "tenant_id": tenant_id},
        )
        login.raise_for_status()
    token: str = login.json()["tokens"]["access_token"]
    return token


async def _tenant(
    infra: BenchInfra, ports: dict[ServiceName, int], seats: int
) -> tuple[str, str, str]:
    """A tenant provisioned by its owner through the tenant service; the owner's token in it
    and address."""
    (address,) = await create_verified_accounts(
        infra, 1, PASSWORD, lambda i: f"bulk-owner-{i.hex[:8]}@example.com"
    )
    auth = f"http://127.0.0.1:{ports[ServiceName.auth]}"
    tenant = f"http://127.0.0.1:{ports[ServiceName.tenant]}"
    async with httpx.AsyncClient(timeout=60) as http:
        login = await http.post(f"{auth}/auth/login", json={"email": address, "password": PASSWORD})
        login.raise_for_status()
        headers = {"authorization": f"Bearer {login.json()['tokens']['access_token']}"}
        slug = f"bulk-{uuid.uuid4().hex[:10]}"
        started = await http.post(
            f"{tenant}/tenants", json={"slug": slug, "name": "Bulk bench"}, headers=headers
        )
        started.raise_for_status()
        conn = await asyncpg.connect(_plain(infra.settings().database_url))
        try:
            tenant_id = None
            for _ in range(600):
                tenant_id = await conn.fetchval(
                    "SELECT id FROM tenants.tenants WHERE slug = $1 AND status = 'active'", slug
                )
                if tenant_id is not None:
                    break
                await asyncio.sleep(0.2)
            if tenant_id is None:
                raise RuntimeError("the tenant was not provisioned")
            await conn.execute(
                "UPDATE tenants.tenants SET seat_quota = $2 WHERE id = $1", tenant_id, seats
            )
        finally:
            await conn.close()
    return str(tenant_id), await _login(auth, address, str(tenant_id)), address


async def _status(conn: asyncpg.Connection, workflow_id: str) -> str | None:
    status: str | None = await conn.fetchval(
        "SELECT status FROM users.bulk_operations WHERE workflow_id = $1", workflow_id
    )
    return status


async def history_figures(temporal: Client, workflow_id: str) -> dict[str, Any]:
    """Per activity type: count, mean seconds started to completed (``run``) and scheduled to
    started (``wait``); the workflow tasks likewise; over every run of the chain."""
    runs = [
        execution.run_id
        async for execution in temporal.list_workflows(f"WorkflowId = '{workflow_id}'")
    ]
    scheduled: dict[int, tuple[str, float]] = {}
    started: dict[int, float] = {}
    sums: defaultdict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for run_id in runs:
        handle = temporal.get_workflow_handle(workflow_id, run_id=run_id)
        async for event in handle.fetch_history_events():
            at = event.event_time.ToDatetime().timestamp()
            kind = event.event_type
            if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                name = event.activity_task_scheduled_event_attributes.activity_type.name
                scheduled[event.event_id] = (name, at)
            elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
                scheduled[event.event_id] = ("workflow task", at)
            elif kind in (
                EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
                EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
            ):
                began = (
                    event.activity_task_started_event_attributes
                    if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
                    else event.workflow_task_started_event_attributes
                )
                started[event.event_id] = at
                name, when = scheduled[began.scheduled_event_id]
                sums[name][2] += at - when
            elif kind in (
                EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
                EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
            ):
                ended = (
                    event.activity_task_completed_event_attributes
                    if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
                    else event.workflow_task_completed_event_attributes
                )
                name, _ = scheduled[ended.scheduled_event_id]
                sums[name][0] += 1
                sums[name][1] += at - started[ended.started_event_id]
    return {
        "runs": len(runs),
        "steps": {
            name: {
                "count": int(count),
                "mean_run_s": round(run / count, 3) if count else None,
                "mean_wait_s": round(wait / count, 3) if count else None,
            }
            for name, (count, run, wait) in sorted(sums.items())
        },
    }


async def measure(infra: BenchInfra, args: argparse.Namespace) -> dict[str, Any]:
    ports = start_stack(
        infra,
        [
            ServiceName.auth,
            ServiceName.user,
            ServiceName.tenant,
            ServiceName.file,
        ],
        extra_env={
            "ADX_USER_BULK_PARALLELISM": str(args.parallelism),
            "ADX_USER_BULK_BATCH_SIZE": str(args.batch_size),
        },
        modules={
            service: [
                "bench.profile_service",
                _stats(args, service),
                "--module",
                f"services.{service}",
            ]
            for service in PROFILED
        }
        if args.profile
        else None,
    )
    tenant_id, token, owner = await _tenant(infra, ports, args.rows + 10)
    body = csv_rows(args.rows)
    user = f"http://127.0.0.1:{ports[ServiceName.user]}"
    headers = {"authorization": f"Bearer {token}"}
    conn = await asyncpg.connect(_plain(infra.settings().database_url))
    load_before = os.getloadavg()
    cpu_before = CpuSnapshot.take(infra.roles)
    profiles = ExitStack()
    for service in PROFILED if args.profile else ():
        process = next(p for p in infra.processes if infra.roles.get(p.pid or -1) == service)
        profiles.enter_context(profiled(process, "import", Path(_stats(args, service))))
    async with httpx.AsyncClient(base_url=user, timeout=120, headers=headers) as http:
        began = time.perf_counter()
        answer = await http.post(
            "/users/bulk/operations",
            params={"operation": "import"},
            content=body,
            headers={"content-type": "text/csv"},
        )
        uploaded = time.perf_counter() - began
        answer.raise_for_status()
        workflow_id = answer.json()["workflow_id"]
        status = "running"
        while time.perf_counter() - began < args.timeout:
            await asyncio.sleep(0.5)
            status = await _status(conn, workflow_id) or "running"
            if status != "running":
                break
        elapsed = time.perf_counter() - began
        cpu = CpuSnapshot.take(infra.roles).since(cpu_before)
        profiles.close()
        # The set-password links go out beside the import (a run per batch, after its welcome
        # mails): how long until every new account's token was issued.
        links = None
        while time.perf_counter() - began < args.timeout:
            issued = await conn.fetchval(
                "SELECT count(*) FROM auth.one_time_tokens WHERE workflow_id LIKE $1",
                f"{workflow_id}-password-links-%",
            )
            if issued >= args.rows:
                links = time.perf_counter() - began
                break
            await asyncio.sleep(0.5)
        load_after = os.getloadavg()
        await conn.close()
        # Signed in again: the owner's access token may have expired during a long run.
        token = await _login(f"http://127.0.0.1:{ports[ServiceName.auth]}", owner, tenant_id)
        got = await http.get(
            f"/users/bulk/{workflow_id}/report", headers={"authorization": f"Bearer {token}"}
        )
        got.raise_for_status()
        report: dict[str, Any] = got.json()
    temporal = await connect_temporal(infra.settings())
    steps = await history_figures(temporal, workflow_id)
    handled = report.get("done", 0) + report.get("failed", 0)
    thousands = max(handled, 1) / 1000
    return {
        "rows": args.rows,
        "parallelism": args.parallelism,
        "batch_size": args.batch_size,
        "upload_seconds": round(uploaded, 3),
        "seconds": round(elapsed, 1),
        "status": status,
        "done": report.get("done"),
        "failed": report.get("failed"),
        "rows_per_second": round(handled / elapsed, 1) if elapsed else 0.0,
        "links_issued_after_seconds": round(links, 1) if links is not None else None,
        "target_rows_per_second": TARGET_ROWS_PER_SECOND,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "cpu_seconds_per_1000_rows": {
            role: round(seconds / thousands, 2) for role, seconds in sorted(cpu.items())
        },
        "history": steps,
        "first_errors": sorted({r["error"] for r in report.get("rows", []) if r["error"]})[:5],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with infrastructure() as infra:
        figures = asyncio.run(measure(infra, args))
    print(json.dumps(figures, indent=2))
    met = figures["rows_per_second"] >= TARGET_ROWS_PER_SECOND
    print(
        f"bulk import: {figures['rows_per_second']} rows/s over {figures['rows']} rows "
        f"(target >= {TARGET_ROWS_PER_SECOND}: {'met' if met else 'NOT met'})"
    )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
