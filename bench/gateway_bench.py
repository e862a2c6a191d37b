"""Gateway overhead, in one run on one machine (``make bench-gateway``, or
``python -m bench.gateway_bench [--json out.json] [--profile gateway.prof]``). The gateway, the
auth and the user service run as processes (``--mode both``, as ``make run``), on this run's own
infrastructure (``bench/infra.py``). It measures:

1. **direct queries** at a fixed rate (``--rate``, 200 requests/s, ``bench.load.paced``, on
   kept-alive connections of the raw client): ``user(id)`` and ``me { profile }`` through the
   gateway against the same read straight from the user service (``GET /users/{id}``,
   ``GET /users/me``, same token), and ``{ __typename }`` alone (anonymous). Targets: gateway
   p50 at most 1.3x direct, gateway p99 under 25 ms;
2. **a workflow-starting mutation**, ``signUp``, sequentially on one kept-alive connection,
   against the same ``user_registration`` start made from this process: the bare
   ``start_workflow`` (its password hashed beforehand, once) and the whole sign-up start
   (``services.common.registration.start_sign_up``: the argon2id hash every sign-up pays, then
   ``start_workflow``). Target: signUp p50 at most 1.5x the sign-up start (the hash is a
   security requirement: a password never enters a workflow payload); the ratio to the bare
   start is printed too;
3. **progress-subscription lag**: ``--runs`` runs of ``bench/progress_workflow.py`` (steps on
   timers, worker in a process of its own) followed by ``--subscribers`` graphql-transport-ws
   subscribers spread evenly over them (anonymous, with each run's access token); the lag of an
   event is its arrival at the subscriber minus the step's completion (workflow time, in the
   progress label), the gateway's RSS growth is its peak during the phase minus before it.
   Targets: lag p95 under 250 ms, RSS growth under 200 MB.

Not a test: it asserts nothing, it measures and reports (figures on a shared machine are noisy:
read the ratios, measured in the same run)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.argon2_rate import PASSWORD
from bench.clients import RawPoster
from bench.infra import ROOT, BenchInfra, infrastructure, insert_verified_accounts
from bench.load import CpuSnapshot, OperationError, PhaseResult, drive, paced, wait_until_quiet
from bench.progress_workflow import NAME as STEPS_WORKFLOW
from bench.progress_workflow import StepsInput
from bench.sampling import profiled
from bench.tenant_create import stack_env, start_stack
from gateway.run_access import RunAccess, RunIdentity
from services.common.passwords import hash_password
from services.common.registration import start_sign_up
from services.common.settings import ServiceName, Settings
from services.common.temporal import connect_temporal
from services.devstack import ManagedProcess
from workflows.auth.user_registration import hashed, registration_input, start_registration

QUERY_P50_RATIO = 1.3
QUERY_P99_MS = 25.0
MUTATION_P50_RATIO = 1.5
LAG_P95_MS = 250.0
RSS_GROWTH_MB = 200.0
#: The run-access secret of this run's gateway, so the bench can hand subscribers run tokens.
RUN_ACCESS_SECRET = "bench-only-run-access-secret-0123456789"  # noqa: S105
STACK = (ServiceName.gateway, ServiceName.auth, ServiceName.user)
#: How long after its runs' last step a subscriber may still wait for their end.
SUBSCRIPTION_GRACE_SECONDS = 60.0

USER = "query($id: ID!) { user(id: $id) { id displayName email } }"
ME = "{ me { profile { id displayName email } } }"
TYPENAME = "{ __typename }"
SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) { id status accessToken } }"
PROGRESS = """subscription($id: ID!, $token: String) {
  workflowProgress(id: $id, accessToken: $token) { status progress { step label } }
}"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s of the queries")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per query phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="uncounted seconds before each")
    parser.add_argument("--users", type=int, default=20, help="accounts the queries rotate over")
    parser.add_argument(
        "--mutation-duration", type=float, default=10.0, help="seconds per sign-up phase"
    )
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=20, help="timer steps per run")
    parser.add_argument("--step-seconds", type=float, default=1.0)
    parser.add_argument(
        "--poll-seconds", type=float, default=0.1, help="the relay's ADX_PROGRESS_POLL_SECONDS"
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=["queries", "mutation", "subscriptions"]
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--profile",
        type=Path,
        help="run the gateway under cProfile (bench.profile_service); one stats file per "
        "query/mutation phase, FILE's stem + -<phase> (the figures of such a run are not the "
        "benchmark's)",
    )
    return parser.parse_args(argv)


def _env(infra: BenchInfra, args: argparse.Namespace) -> dict[str, str]:
    return {
        **stack_env(infra),
        "ADX_RUN_ACCESS_SECRET": RUN_ACCESS_SECRET,
        "ADX_PROGRESS_POLL_SECONDS": str(args.poll_seconds),
        # 1,000 subscribers from one address and, for the query phases, 20 users at 200/s.
        "ADX_SUBSCRIPTION_MAX_PER_USER": "1000",
    }


async def accounts(infra: BenchInfra, count: int) -> list[tuple[str, str]]:
    """``count`` verified accounts with a profile each (inserted directly): (user id, e-mail)."""
    rows = await insert_verified_accounts(
        infra.settings().database_url,
        count,
        PASSWORD,
        lambda user_id: f"gw-{user_id.hex[:12]}@example.com",
        profiles=True,
    )
    return [(str(user_id), email) for user_id, email in rows]


async def tokens(auth_url: str, users: list[tuple[str, str]]) -> list[str]:
    async with httpx.AsyncClient(base_url=auth_url, timeout=60) as client:
        out = []
        for _, email in users:
            answer = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
            if answer.status_code != 200:
                raise OperationError(f"login HTTP {answer.status_code}: {answer.text[:200]}")
            out.append(answer.json()["tokens"]["access_token"])
        return out


class Signed(RawPoster):
    """A kept-alive connection signed in as one bench user (``user_id``)."""

    def __init__(self, url: str, user_id: str, token: str | None) -> None:
        super().__init__(url, {"authorization": f"Bearer {token}"} if token else None)
        self.user_id = user_id


def _checked(status: int, body: bytes, what: str) -> dict[str, Any]:
    if status != 200:
        raise OperationError(f"{what}: HTTP {status}")
    answer: dict[str, Any] = json.loads(body)
    if answer.get("errors"):
        raise OperationError(f"{what}: {answer['errors'][0].get('message', '?')[:100]}")
    return answer


async def measure_queries(
    urls: dict[ServiceName, str],
    users: list[tuple[str, str]],
    access: list[str],
    args: argparse.Namespace,
    roles: dict[int, str],
    gateway: ManagedProcess | None,
) -> dict[str, Any]:
    opened = [0]

    def signed(service: ServiceName, anonymous: bool = False) -> Any:
        def connect() -> Signed:
            index = opened[0] % len(users)
            opened[0] += 1
            token = None if anonymous else access[index]
            return Signed(urls[service], users[index][0], token)

        return connect

    async def direct_user(c: Signed) -> None:
        status, body = await c.get(f"/users/{c.user_id}")
        if status != 200 or not json.loads(body):  # parsed, as the gateway's answers are
            raise OperationError(f"GET /users/id: HTTP {status}")

    async def direct_me(c: Signed) -> None:
        status, body = await c.get("/users/me")
        if status != 200 or not json.loads(body):
            raise OperationError(f"GET /users/me: HTTP {status}")

    def graphql(query: str, field: str, *, with_id: bool = False) -> Any:
        async def operation(c: Signed) -> None:
            variables = {"id": c.user_id} if with_id else {}
            payload = json.dumps({"query": query, "variables": variables}).encode()
            answer = _checked(*await c.post("/graphql", payload), field)
            if answer["data"][field] is None:
                raise OperationError(f"{field}: null")

        return operation

    gw, user = ServiceName.gateway, ServiceName.user
    phases = (
        ("direct_user_by_id", direct_user, signed(user)),
        ("gateway_user_by_id", graphql(USER, "user", with_id=True), signed(gw)),
        ("direct_me", direct_me, signed(user)),
        ("gateway_me", graphql(ME, "me"), signed(gw)),
        ("gateway_typename", graphql(TYPENAME, "__typename"), signed(gw, anonymous=True)),
    )
    results: dict[str, PhaseResult] = {}
    for name, operation, connect in phases:
        wait_until_quiet(10)
        with profiled(gateway if name.startswith("gateway") else None, name, args.profile):
            results[name] = await paced(
                name,
                operation,
                connect=connect,
                rate=args.rate,
                warmup=args.warmup,
                duration=args.duration,
                roles=roles,
            )

    def versus(gateway_phase: str, direct_phase: str) -> dict[str, Any]:
        through, direct = results[gateway_phase], results[direct_phase]
        ratio = through.latency_ms(0.5) / direct.latency_ms(0.5)
        p99 = through.latency_ms(0.99)
        return {
            "gateway_p50_ms": round(through.latency_ms(0.5), 2),
            "direct_p50_ms": round(direct.latency_ms(0.5), 2),
            "p50_ratio": round(ratio, 3),
            "gateway_p99_ms": round(p99, 2),
            "targets": {"p50_ratio": QUERY_P50_RATIO, "p99_ms": QUERY_P99_MS},
            "met": bool(ratio <= QUERY_P50_RATIO and p99 < QUERY_P99_MS and not through.errors),
        }

    return {
        "rate_per_second": args.rate,
        "phases": {name: r.summary() for name, r in results.items()},
        "user_by_id": versus("gateway_user_by_id", "direct_user_by_id"),
        "me": versus("gateway_me", "direct_me"),
        "typename_p50_ms": round(results["gateway_typename"].latency_ms(0.5), 2),
    }


async def measure_mutation(
    settings: Settings,
    gateway_url: str,
    args: argparse.Namespace,
    roles: dict[int, str],
    gateway: ManagedProcess | None,
) -> dict[str, Any]:
    temporal = await connect_temporal(settings)
    queue = settings.task_queue(ServiceName.auth)
    timeout = settings.auth_verification_hours * 3600
    connection = RawPoster(gateway_url)
    password_hash = await hash_password(PASSWORD)

    def address() -> str:
        return f"signup-{uuid.uuid4().hex[:16]}@example.com"

    async def sign_up(_: int) -> None:
        inputs = {"email": address(), "password": PASSWORD, "displayName": "Bench"}
        payload = json.dumps({"query": SIGN_UP, "variables": {"i": inputs}}).encode()
        _checked(*await connection.post("/graphql", payload), "signUp")

    async def bare_start(_: int) -> None:
        registration = registration_input(
            address(), PASSWORD, "Bench", verification_timeout_seconds=timeout
        )
        await start_registration(temporal, queue, hashed(registration, password_hash))

    async def sign_up_start(_: int) -> None:
        await start_sign_up(
            temporal,
            queue,
            email=address(),
            password=PASSWORD,
            display_name="Bench",
            verification_timeout_seconds=timeout,
        )

    results: dict[str, PhaseResult] = {}
    try:
        for name, operation in (
            ("bare_start_workflow", bare_start),
            ("sign_up_start", sign_up_start),
            ("gateway_sign_up", sign_up),
        ):
            wait_until_quiet(10)
            with profiled(gateway if name.startswith("gateway") else None, name, args.profile):
                results[name] = await drive(
                    name,
                    operation,
                    clients=1,
                    warmup=args.warmup,
                    duration=args.mutation_duration,
                    roles=roles,
                )
    finally:
        await connection.close()
    gateway_p50 = results["gateway_sign_up"].latency_ms(0.5)
    ratio = gateway_p50 / results["sign_up_start"].latency_ms(0.5)
    return {
        "phases": {name: r.summary() for name, r in results.items()},
        "gateway_sign_up_p50_ms": round(gateway_p50, 2),
        "sign_up_start_p50_ms": round(results["sign_up_start"].latency_ms(0.5), 2),
        "bare_start_workflow_p50_ms": round(results["bare_start_workflow"].latency_ms(0.5), 2),
        "p50_ratio_to_sign_up_start": round(ratio, 3),
        "p50_ratio_to_bare_start": round(
            gateway_p50 / results["bare_start_workflow"].latency_ms(0.5), 3
        ),
        "target": MUTATION_P50_RATIO,
        "met": bool(ratio <= MUTATION_P50_RATIO and not results["gateway_sign_up"].errors),
    }


class Subscribers:
    """graphql-transport-ws subscribers of the bench's runs: each follows one run to its end,
    recording the lag of every step after the first state it was shown (that one is the
    snapshot of the run, not an event)."""

    def __init__(self, ws_url: str, handshakes: int = 50) -> None:
        self.ws_url = ws_url
        self.lags: list[float] = []
        self.subscribed = 0
        #: At most this many connect at once (the handshakes cost both sides CPU).
        self._handshakes = asyncio.Semaphore(handshakes)

    async def follow(self, run: tuple[str, str]) -> str:
        """Until the run (id, access token) completes: "complete", else what went wrong."""
        import websockets

        await self._handshakes.acquire()
        holding = True
        try:
            async with websockets.connect(
                self.ws_url,
                subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                open_timeout=60,
                ping_interval=None,
            ) as ws:
                await ws.send(json.dumps({"type": "connection_init"}))
                await ws.recv()
                payload = {"query": PROGRESS, "variables": {"id": run[0], "token": run[1]}}
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
                seen: int | None = None
                while True:
                    message = json.loads(await ws.recv())
                    if message["type"] == "ping":
                        await ws.send(json.dumps({"type": "pong"}))
                    elif message["type"] == "next":
                        arrived = time.time()
                        data = message["payload"].get("data")
                        if not data:
                            errors = message["payload"].get("errors") or [{}]
                            return f"error: {str(errors[0].get('message'))[:100]}"
                        progress = data["workflowProgress"]["progress"]
                        step = progress["step"] if progress else 0
                        if seen is None:
                            self.subscribed += 1
                            self._handshakes.release()
                            holding = False
                        elif step > seen:
                            self.lags.append(arrived - float(progress["label"]))
                        seen = step
                    elif message["type"] == "complete":
                        return "complete"
                    elif message["type"] == "error":
                        return f"error: {str(message.get('payload'))[:100]}"
        except Exception as error:  # reported with the figures
            return type(error).__name__
        finally:
            if holding:
                self._handshakes.release()


async def measure_subscriptions(
    settings: Settings,
    ws_url: str,
    args: argparse.Namespace,
    gateway: psutil.Process,
    roles: dict[int, str],
) -> dict[str, Any]:
    temporal = await connect_temporal(settings)
    queue = f"{settings.task_queue_prefix}-bench-progress"
    access = RunAccess(RUN_ACCESS_SECRET.encode())
    runs = []
    for _ in range(args.runs):
        handle = await temporal.start_workflow(
            STEPS_WORKFLOW,
            StepsInput(steps=args.steps, step_seconds=args.step_seconds),
            id=f"bench-progress-{uuid.uuid4().hex}",
            task_queue=queue,
        )
        first_run = handle.first_execution_run_id or handle.result_run_id or ""
        runs.append((handle.id, access.token(RunIdentity(handle.id, first_run, None))))
    rss_before = gateway.memory_info().rss
    peak = [rss_before]

    async def sample_rss() -> None:
        while True:
            with contextlib.suppress(psutil.Error):
                peak[0] = max(peak[0], gateway.memory_info().rss)
            await asyncio.sleep(0.5)

    began = time.monotonic()
    cpu_before = CpuSnapshot.take(roles)
    sampler = asyncio.create_task(sample_rss())
    subscribers = Subscribers(ws_url)
    followers = [
        asyncio.create_task(subscribers.follow(runs[i % len(runs)]))
        for i in range(args.subscribers)
    ]
    try:  # the runs end after steps x step_seconds; a subscriber still waiting long after failed
        done, pending = await asyncio.wait(
            followers, timeout=args.steps * args.step_seconds + SUBSCRIPTION_GRACE_SECONDS
        )
    finally:
        sampler.cancel()
    cpu = CpuSnapshot.take(roles).since(cpu_before)
    for task in pending:
        task.cancel()
    # Whether the runs themselves kept time (a starved worker or Temporal slows the steps, which
    # a subscriber then waits for: not lag, as each step carries its own time).
    statuses = [
        (await temporal.get_workflow_handle(run_id).describe()).status for run_id, _ in runs
    ]
    completed_runs = sum(1 for status in statuses if status and status.name == "COMPLETED")
    outcomes = [task.result() for task in done] + ["no end within the runs' time"] * len(pending)
    lags = sorted(subscribers.lags)

    def quantile(q: float) -> float:
        return 1000 * lags[min(len(lags) - 1, int(q * len(lags)))] if lags else float("nan")

    growth_mb = (peak[0] - rss_before) / 2**20
    p95 = quantile(0.95)
    failures = {o: outcomes.count(o) for o in set(outcomes) if o != "complete"}
    return {
        "runs": args.runs,
        "runs_completed": completed_runs,
        "subscribers": args.subscribers,
        "subscribed": subscribers.subscribed,
        "failures": failures,
        "events": len(lags),
        "seconds": round(time.monotonic() - began, 1),
        "lag_ms": {
            "p50": round(quantile(0.5), 1),
            "p95": round(p95, 1),
            "p99": round(quantile(0.99), 1),
            "mean": round(1000 * statistics.fmean(lags), 1) if lags else None,
        },
        "gateway_rss_mb": {
            "before": round(rss_before / 2**20, 1),
            "peak": round(peak[0] / 2**20, 1),
            "growth": round(growth_mb, 1),
        },
        "poll_seconds": args.poll_seconds,
        # Who was busy meanwhile: the gateway, the runs' worker, Temporal, the rest (others'
        # work on a shared machine, "background"): where the lag comes from.
        "cpu_seconds": {role: round(seconds, 1) for role, seconds in sorted(cpu.items())},
        "gateway_cpu_ms_per_event": (
            round(1000 * cpu.get("gateway", 0.0) / len(lags), 2) if lags else None
        ),
        "targets": {"lag_p95_ms": LAG_P95_MS, "rss_growth_mb": RSS_GROWTH_MB},
        "met": bool(lags and p95 < LAG_P95_MS and growth_mb < RSS_GROWTH_MB and not failures),
    }


def _verdict(met: bool) -> str:
    return "target met" if met else "target NOT met"


def report(figures: dict[str, Any]) -> str:
    lines = []
    if "queries" in figures:
        q = figures["queries"]
        for name in ("user_by_id", "me"):
            v = q[name]
            lines.append(
                f"{name}: gateway p50 {v['gateway_p50_ms']} ms vs direct {v['direct_p50_ms']} ms "
                f"({v['p50_ratio']}x, target <= {QUERY_P50_RATIO}x), gateway p99 "
                f"{v['gateway_p99_ms']} ms (target < {QUERY_P99_MS}): {_verdict(v['met'])}"
            )
        lines.append(f"{{ __typename }}: p50 {q['typename_p50_ms']} ms")
    if "mutation" in figures:
        m = figures["mutation"]
        lines.append(
            f"signUp: p50 {m['gateway_sign_up_p50_ms']} ms vs sign-up start (hash + start) "
            f"{m['sign_up_start_p50_ms']} ms ({m['p50_ratio_to_sign_up_start']}x, target <= "
            f"{MUTATION_P50_RATIO}x): {_verdict(m['met'])}; vs bare start_workflow "
            f"{m['bare_start_workflow_p50_ms']} ms ({m['p50_ratio_to_bare_start']}x)"
        )
    if "subscriptions" in figures:
        s = figures["subscriptions"]
        lines.append(
            f"subscriptions: {s['subscribed']}/{s['subscribers']} over {s['runs']} runs, "
            f"{s['events']} events, lag p50 {s['lag_ms']['p50']} ms p95 {s['lag_ms']['p95']} ms "
            f"(target < {LAG_P95_MS}), gateway RSS +{s['gateway_rss_mb']['growth']} MB (target < "
            f"{RSS_GROWTH_MB}): {_verdict(s['met'])}"
        )
    return "\n".join(lines)


def start_progress_worker(infra: BenchInfra, env: dict[str, str]) -> None:
    queue = f"{infra.env['ADX_TASK_QUEUE_PREFIX']}-bench-progress"
    proc = ManagedProcess(
        "progress-worker",
        [sys.executable, "-m", "bench.progress_worker", queue],
        env={**os.environ, **env},
        cwd=ROOT,
        log_file=infra.data_dir / "logs" / "progress-worker.log",
        echo=False,
        die_with_parent=True,
        stop_timeout=30,
    ).start()
    infra.track("progress worker", proc)


def run_in(infra: BenchInfra, args: argparse.Namespace) -> dict[str, Any]:
    env = _env(infra, args)
    modules = None
    if args.profile is not None:
        args.profile = args.profile.resolve()
        profiler = ["bench.profile_service", str(args.profile), "--module", "gateway"]
        modules = {ServiceName.gateway: profiler}
    ports = start_stack(infra, STACK, extra_env=env, modules=modules)
    urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
    gateway = next(p for p in infra.processes if infra.roles.get(p.pid or -1) == "gateway")
    settings = Settings.model_validate({k.removeprefix("ADX_").lower(): v for k, v in env.items()})
    figures: dict[str, Any] = {}

    async def measure() -> None:
        users = await accounts(infra, args.users)
        access = await tokens(urls[ServiceName.auth], users)
        if "queries" not in args.skip:
            figures["queries"] = await measure_queries(
                urls, users, access, args, infra.roles, gateway
            )
            print(report({"queries": figures["queries"]}), flush=True)
        if "mutation" not in args.skip:
            figures["mutation"] = await measure_mutation(
                settings, urls[ServiceName.gateway], args, infra.roles, gateway
            )
            print(report({"mutation": figures["mutation"]}), flush=True)
        if "subscriptions" not in args.skip:
            start_progress_worker(infra, env)
            ws = urls[ServiceName.gateway].replace("http://", "ws://") + "/graphql"
            figures["subscriptions"] = await measure_subscriptions(
                settings, ws, args, psutil.Process(gateway.pid), infra.roles
            )

    asyncio.run(measure())
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with infrastructure() as infra:
        figures = run_in(infra, args)
    figures["machine"] = {"cpus": os.cpu_count(), "load_average": os.getloadavg()}
    text_out = json.dumps(figures, indent=2)
    print(text_out)
    print(report(figures))
    if args.json:
        args.json.write_text(text_out + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
