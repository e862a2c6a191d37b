"""``workflowRuns`` list latency through the gateway with 10,000 runs in the namespace visible to
one tenant (``python -m bench.workflow_runs_bench [--runs 10000] [--json out.json]``, or
``make bench-workflow-runs``).

In one run on one machine: a fresh dev server, PostgreSQL database and Redis (``bench/infra.py``);
the gateway, auth and workflow service as real processes; ``--runs`` runs of the no-op workflow
(``bench/noop_workflow.py``, no worker polls its queue, so they stay RUNNING and cost the server
nothing but their start) started as a tenant's member, so they carry that tenant's and user's
search attributes as every ADX run does. A tenant admin (``workflows.read``, signed in through
auth) then lists them: the first page (``first`` 20), and pages followed by cursor ten deep,
through the gateway and, as the baseline measured in the same run, straight from the workflow
service (``GET /runs``). It reports p50/p99 of each and the gateway's ratio. Not a test: it
asserts nothing, it measures and reports."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.argon2_rate import PASSWORD
from bench.clients import RawPoster
from bench.infra import BenchInfra, create_verified_accounts, infrastructure
from bench.load import OperationError, PhaseResult, drive, wait_until_quiet
from bench.noop_workflow import NoopChainWorkflow
from bench.tenant_create import start_stack
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName, Settings
from services.common.temporal import connect_temporal
from storage.auth.models import PrincipalClaims
from workflows.tenant.permissions import Permission

STACK = (ServiceName.gateway, ServiceName.auth, ServiceName.workflow)
PAGE = 20
DEPTH = 10
RUNS = """query($first: Int!, $after: String) {
  workflowRuns(first: $first, after: $after, filter: {type: "bench_noop_chain"}) {
    edges { node { workflowId status startTime } } pageInfo { hasNextPage endCursor }
  }
}"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000, help="runs visible to the tenant")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="uncounted seconds first")
    parser.add_argument("--clients", type=int, default=4, help="closed-loop clients")
    parser.add_argument("--start-concurrency", type=int, default=100)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


async def tenant_admin(infra: BenchInfra, tenant_id: uuid.UUID) -> str:
    """An account holding ``workflows.read`` in ``tenant_id`` (claims inserted directly)."""
    (email,) = await create_verified_accounts(
        infra, 1, PASSWORD, lambda user_id: f"runs-{user_id.hex[:12]}@example.com"
    )
    engine = create_async_engine(infra.settings().database_url)
    try:
        async with engine.begin() as conn:
            user_id = (
                await conn.execute(
                    text("SELECT id FROM auth.credentials WHERE email = :e"), {"e": email}
                )
            ).scalar_one()
            await conn.execute(
                PrincipalClaims.__table__.insert(),  # type: ignore[attr-defined]
                [
                    {
                        "user_id": user_id,
                        "tenant_id": tenant_id,
                        "roles": ["admin"],
                        "permissions": [Permission.WORKFLOWS_READ, Permission.WORKFLOWS_MANAGE],
                    }
                ],
            )
    finally:
        await engine.dispose()
    return email


async def sign_in(auth_url: str, email: str, tenant_id: uuid.UUID) -> str:
    poster = RawPoster(auth_url)
    try:
        body = json.dumps({"email": email, "password": PASSWORD, "tenant_id": str(tenant_id)})
        status, answer = await poster.post("/auth/login", body.encode())
    finally:
        await poster.close()
    if status != 200:
        raise OperationError(f"login HTTP {status}: {answer[:200]!r}")
    return str(json.loads(answer)["tokens"]["access_token"])


async def start_runs(
    settings: Settings, count: int, tenant_id: uuid.UUID, concurrency: int
) -> float:
    """``count`` no-op runs started as a member of the tenant (the security interceptor sets
    their search attributes); the seconds it took."""
    client = await connect_temporal(settings)
    queue = f"{settings.task_queue_prefix}-bench-runs-unpolled"
    member = SecurityContext.for_user(str(uuid.uuid4()), tenant_id=str(tenant_id))
    todo = iter(range(count))
    begin = time.perf_counter()

    async def starter() -> None:
        with acting_as(member):
            for index in todo:
                await client.start_workflow(
                    NoopChainWorkflow.run, 0, id=f"bench-runs-{index}", task_queue=queue
                )

    await asyncio.gather(*(starter() for _ in range(concurrency)))
    return time.perf_counter() - begin


async def wait_visible(
    workflow_url: str, token: str, count: int, limit_seconds: float = 300
) -> float:
    """Until the workflow service counts ``count`` runs for the tenant (visibility lags)."""
    poster = RawPoster(workflow_url, {"authorization": f"Bearer {token}"})
    begin = time.perf_counter()
    try:
        while True:
            status, body = await poster.get("/runs/count?type=bench_noop_chain")
            seen = json.loads(body).get("total", 0) if status == 200 else 0
            if seen >= count or time.perf_counter() - begin > limit_seconds:
                return time.perf_counter() - begin
            await asyncio.sleep(1)
    finally:
        await poster.close()


def _page(status: int, body: bytes, what: str) -> str | None:
    """The next cursor of a page (None on the last), after checking the answer."""
    if status != 200:
        raise OperationError(f"{what} HTTP {status}")
    answer = json.loads(body)
    if "errors" in answer:
        raise OperationError(f"{what}: {answer['errors'][0].get('message', '')[:80]}")
    if "data" in answer:
        info = answer["data"]["workflowRuns"]["pageInfo"]
        return info["endCursor"] if info["hasNextPage"] else None
    return answer.get("next_cursor")  # type: ignore[no-any-return]


async def measure(
    urls: dict[ServiceName, str], token: str, args: argparse.Namespace, roles: dict[int, str]
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"}
    gateway = [RawPoster(urls[ServiceName.gateway], headers) for _ in range(args.clients)]
    direct = [RawPoster(urls[ServiceName.workflow], headers) for _ in range(args.clients)]

    async def through_gateway(poster: RawPoster, depth: int) -> None:
        after = None
        for _ in range(depth):
            body = json.dumps({"query": RUNS, "variables": {"first": PAGE, "after": after}})
            after = _page(*(await poster.post("/graphql", body.encode())), "gateway")
            if after is None:
                return

    async def from_service(poster: RawPoster, depth: int) -> None:
        after = None
        for _ in range(depth):
            query = {"first": PAGE, "type": "bench_noop_chain"}
            if after is not None:
                query["after"] = after
            after = _page(*(await poster.get(f"/runs?{urlencode(query)}")), "direct")
            if after is None:
                return

    phases: dict[str, PhaseResult] = {}
    try:
        for name, operation, posters, depth in (
            ("service first page", from_service, direct, 1),
            ("gateway first page", through_gateway, gateway, 1),
            (f"service {DEPTH} pages", from_service, direct, DEPTH),
            (f"gateway {DEPTH} pages", through_gateway, gateway, DEPTH),
        ):
            wait_until_quiet(10)

            async def one(
                index: int, op: Any = operation, pool: list[RawPoster] = posters, d: int = depth
            ) -> None:
                try:
                    await op(pool[index], d)
                except BaseException:
                    await pool[index].close()  # a broken connection is opened anew next time
                    raise

            phases[name] = await drive(
                name,
                one,
                clients=args.clients,
                warmup=args.warmup,
                duration=args.duration,
                roles=roles,
            )
    finally:
        for poster in (*gateway, *direct):
            await poster.close()
    figures: dict[str, Any] = {name: phase.summary() for name, phase in phases.items()}
    for what in ("first page", f"{DEPTH} pages"):
        gw, svc = phases[f"gateway {what}"], phases[f"service {what}"]
        figures[f"gateway / service, {what}"] = {
            q: round(gw.latency_ms(v) / svc.latency_ms(v), 2)
            for q, v in (("p50", 0.5), ("p99", 0.99))
        }
    return figures


def report(figures: dict[str, Any]) -> str:
    lines = [f"workflowRuns with {figures['runs']} runs visible to the tenant:"]
    for name, phase in figures["phases"].items():
        if "latency_ms" in phase:
            lat = phase["latency_ms"]
            lines.append(
                f"  {name:>22}: p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms, "
                f"{phase['per_second']:.1f}/s, errors {phase['errors'] or 'none'}"
            )
        else:
            lines.append(f"  {name}: {phase}")
    return "\n".join(lines)


def run_in(infra: BenchInfra, args: argparse.Namespace) -> dict[str, Any]:
    # The platform-wide insight gauges scan up to 1000 runs per refresh: off, so only the
    # measured requests load the workflow service and Temporal.
    ports = start_stack(infra, STACK, extra_env={"ADX_WORKFLOW_INSIGHTS_REFRESH_SECONDS": "0"})
    urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
    settings = infra.settings()
    tenant_id = uuid.uuid4()

    async def go() -> dict[str, Any]:
        email = await tenant_admin(infra, tenant_id)
        started = await start_runs(settings, args.runs, tenant_id, args.start_concurrency)
        # Signed in after the starts (they may take longer than an access token lives).
        token = await sign_in(urls[ServiceName.auth], email, tenant_id)
        visible = await wait_visible(urls[ServiceName.workflow], token, args.runs)
        return {
            "runs": args.runs,
            "start_seconds": round(started, 1),
            "visible_after_seconds": round(visible, 1),
            "page_size": PAGE,
            "phases": await measure(urls, token, args, infra.roles),
        }

    return asyncio.run(go())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with infrastructure() as infra:
        figures = run_in(infra, args)
    figures["machine"] = {"cpus": os.cpu_count(), "load_average": os.getloadavg()}
    out = json.dumps(figures, indent=2)
    print(out)
    print(report(figures))
    if args.json:
        args.json.write_text(out + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
