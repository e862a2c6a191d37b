"""``createTenant`` end to end against a bare Temporal workflow (``make bench-tenant``, after the
switching figures, or ``python -m bench.tenant_create [--duration 20] [--json out.json]``).

- **createTenant**: the whole stack as processes (gateway and the five services, HTTP and
  workers, local billing provider), clients in a closed loop: the ``createTenant`` mutation
  through the gateway, then ``workflowProgress`` over graphql-transport-ws until COMPLETED (the
  run's access token; progress polled every ``ADX_PROGRESS_POLL_SECONDS``, 0.1 here as in the
  tests). One user per client, each tenant a new slug.
- **bare workflow**: ``bench/noop_workflow.py``, as many sequential no-op activities as one
  provisioning run schedules (counted from a run's history), started and awaited from this
  process with a worker of its own (sandboxed, as the services' workers), same clients.

Target: createTenant costs at most 1.5x the bare workflow (calls/s and p50). Not a test: it
measures and reports."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.argon2_rate import PASSWORD
from bench.infra import ROOT, BenchInfra, create_verified_accounts, infrastructure
from bench.load import OperationError, PhaseResult, drive, wait_until_quiet
from bench.noop_workflow import NoopChainWorkflow, noop
from services.common.settings import DEFAULT_PORTS, ServiceName
from services.common.temporal import build_worker, connect_temporal
from services.devstack import ManagedProcess, free_port, wait_for_http

RATIO_TARGET = 1.5
#: Payload encryption must agree across the stack's processes (a bench-only key).
BENCH_PAYLOAD_KEYS = '[{"kid": "bench-1", "key": "YmVuY2gtb25seS1wYXlsb2FkLWtleS0zMi1ieXRlcyE="}]'
CREATE = """mutation($slug: String!) {
  createTenant(input: {slug: $slug, name: "Bench"}) { id accessToken }
}"""
PROGRESS = """subscription($id: ID!, $token: String) {
  workflowProgress(id: $id, accessToken: $token) { status }
}"""
LOGIN = "mutation($i: LoginInput!) { login(input: $i) { tokens { accessToken } } }"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per measured phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="uncounted seconds before each")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--json", help="also write the figures to this file")
    return parser.parse_args(argv)


def stack_env(infra: BenchInfra) -> dict[str, str]:
    return {
        **infra.env,
        "ADX_PAYLOAD_KEYS": BENCH_PAYLOAD_KEYS,
        "ADX_PROGRESS_POLL_SECONDS": "0.1",
        "ADX_RATE_LIMIT_ANONYMOUS_REQUESTS": "1000000",
        "ADX_RATE_LIMIT_USER_REQUESTS": "1000000",
        "ADX_RATE_LIMIT_TENANT_REQUESTS": "1000000",
    }


def start_stack(
    infra: BenchInfra,
    services: Iterable[ServiceName] = DEFAULT_PORTS,
    *,
    extra_env: Mapping[str, str] | None = None,
    modules: Mapping[ServiceName, Sequence[str]] | None = None,
) -> dict[ServiceName, int]:
    """The gateway and the services (``--mode both``; all five unless ``services`` names
    some) on free ports, each ready. ``modules`` replaces a process's ``-m`` arguments (e.g.
    the gateway under ``bench.profile_service``)."""
    ports = {service: free_port() for service in services}
    started: dict[ServiceName, ManagedProcess] = {}
    env = {
        **os.environ,
        **stack_env(infra),
        **(extra_env or {}),
        **{f"ADX_{s.value.upper()}_PORT": str(p) for s, p in ports.items()},
    }
    for service in ports:
        module = "gateway" if service == ServiceName.gateway else f"services.{service.value}"
        proc = ManagedProcess(
            service.value,
            [sys.executable, "-m", *(modules or {}).get(service, [module]), "--mode", "both"],
            env=env,
            cwd=ROOT,
            log_file=infra.data_dir / "logs" / f"{service.value}.log",
            echo=False,
            die_with_parent=True,
            stop_timeout=30,
        ).start()
        started[service] = infra.track(service.value, proc)
    for service, port in ports.items():
        wait_for_http(
            f"http://127.0.0.1:{port}/health/ready", timeout=120, process=started[service]
        )
    return ports


async def follow(ws_url: str, run: dict[str, Any]) -> str:
    import websockets

    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init"}))
        await ws.recv()
        variables = {"id": run["id"], "token": run["accessToken"]}
        payload = {"query": PROGRESS, "variables": variables}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        status = "?"
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "next":
                status = message["payload"]["data"]["workflowProgress"]["status"]
            elif message["type"] in ("complete", "error"):
                return status if message["type"] == "complete" else "ERROR"


async def activities_per_run(temporal: Client, workflow_id: str) -> int:
    count = 0
    async for event in temporal.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            count += 1
    return count


async def measure(
    infra: BenchInfra, ports: dict[ServiceName, int], args: argparse.Namespace
) -> dict[str, Any]:
    graphql = f"http://127.0.0.1:{ports[ServiceName.gateway]}/graphql"
    ws_url = f"ws://127.0.0.1:{ports[ServiceName.gateway]}/graphql"
    emails = await create_verified_accounts(
        infra, args.clients, PASSWORD, lambda user_id: f"create-{user_id.hex[:12]}@example.com"
    )
    async with httpx.AsyncClient(timeout=60) as client:
        tokens = []
        for email in emails:
            body = (
                await client.post(
                    graphql,
                    json={
                        "query": LOGIN,
                        "variables": {"i": {"email": email, "password": PASSWORD}},
                    },
                )
            ).json()
            tokens.append(body["data"]["login"]["tokens"]["accessToken"])
        last_run: list[str] = []

        async def create(index: int) -> None:
            slug = f"b-{uuid.uuid4().hex[:16]}"
            answer = await client.post(
                graphql,
                json={"query": CREATE, "variables": {"slug": slug}},
                headers={"authorization": f"Bearer {tokens[index]}"},
            )
            body = answer.json()
            if answer.status_code != 200 or body.get("errors"):
                raise OperationError(f"createTenant: {str(body)[:200]}")
            run = body["data"]["createTenant"]
            status = await follow(ws_url, run)
            if status != "COMPLETED":
                raise OperationError(f"provisioning ended {status}")
            last_run[:] = [run["id"]]

        results: dict[str, PhaseResult] = {}
        wait_until_quiet(10)
        results["create_tenant"] = await drive(
            "create_tenant",
            create,
            clients=args.clients,
            warmup=args.warmup,
            duration=args.duration,
            roles=infra.roles,
        )
    settings = infra.settings()
    temporal = await connect_temporal(settings)
    count = await activities_per_run(temporal, last_run[0]) if last_run else 9
    queue = f"{settings.task_queue_prefix}-bench-noop"
    async with build_worker(
        temporal, settings, task_queue=queue, workflows=[NoopChainWorkflow], activities=[noop]
    ):

        async def bare(_: int) -> None:
            await temporal.execute_workflow(
                NoopChainWorkflow.run, count, id=f"bench-noop-{uuid.uuid4().hex}", task_queue=queue
            )

        wait_until_quiet(10)
        results["bare_workflow"] = await drive(
            "bare_workflow",
            bare,
            clients=args.clients,
            warmup=args.warmup,
            duration=args.duration,
            roles=infra.roles,
        )
    create_r, bare_r = results["create_tenant"], results["bare_workflow"]
    rate_ratio = bare_r.per_second / create_r.per_second if create_r.per_second else None
    p50_ratio = (
        create_r.latency_ms(0.5) / bare_r.latency_ms(0.5)
        if create_r.latencies and bare_r.latencies
        else None
    )
    return {
        "phases": {name: r.summary() for name, r in results.items()},
        "activities_per_run": count,
        "create_tenant_vs_bare_workflow": {
            "throughput_cost_ratio": round(rate_ratio, 3) if rate_ratio else None,
            "p50_ratio": round(p50_ratio, 3) if p50_ratio else None,
            "target": RATIO_TARGET,
            "met": bool(
                rate_ratio
                and p50_ratio
                and rate_ratio <= RATIO_TARGET
                and p50_ratio <= RATIO_TARGET
            ),
        },
    }


def run_in(infra: BenchInfra, args: argparse.Namespace) -> dict[str, Any]:
    """Start the stack in ``infra`` and measure (``bench/tenant_switching.py`` calls this)."""
    began = time.monotonic()
    ports = start_stack(infra)
    figures = asyncio.run(measure(infra, ports, args))
    figures["stack_start_seconds"] = round(time.monotonic() - began, 1)
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with infrastructure() as infra:
        figures = run_in(infra, args)
    figures["machine"] = {"cpus": os.cpu_count()}
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as out:
            out.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
