"""Auth benchmark: logins/s and refreshes/s through the auth service over real HTTP, against the
raw argon2id verify rate at the configured parameters, in one run on one machine.

``python -m bench.auth_bench [--duration 10] [--json out.json]`` (or ``make bench``). Targets:
logins/s >= 0.9 x raw verifies/s (a login costs little beyond its one verification), and
refreshes/s >= 250 per core. Not a test: it asserts nothing, it measures and reports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
from pathlib import Path
from typing import Any

from bench.argon2_rate import PASSWORD, VerifyRate, parameters, verify_rate
from bench.clients import posters
from bench.infra import BenchInfra, create_verified_accounts, infrastructure, start_auth_service
from bench.load import CpuSnapshot, OperationError, PhaseResult, drive, wait_until_quiet
from bench.sampling import profiled, sampled

LOGIN_RATIO_TARGET = 0.9
REFRESHES_PER_CORE_TARGET = 250.0
#: Above this share of the machine, other processes' CPU use makes the figures unreliable.
BACKGROUND_WARNING = 0.05
#: Roles whose CPU serves a request; the load generator ("bench client") is not one of them.
SERVER_ROLES = ("auth", "postgres", "redis")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="uncounted seconds before each")
    parser.add_argument("--login-clients", type=int, default=4 * cores)
    parser.add_argument("--refresh-clients", type=int, default=8 * cores)
    parser.add_argument("--users", type=int, default=500, help="accounts created in the database")
    parser.add_argument("--threads", type=int, default=cores, help="threads for raw verifies")
    parser.add_argument(
        "--service-processes",
        type=int,
        default=cores,
        help="auth processes on their own ports, clients spread over them; default one per core, "
        "as deployed (replicas of one CPU each behind a balancer: deploy/k8s/base/auth.yaml)",
    )
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run service process i on CPU i mod cores only, as a replica limited to one CPU "
        "(its argon2 pool then has one thread); --no-pin lets every process use every core",
    )
    parser.add_argument(
        "--client",
        choices=["httpx", "raw"],
        default="raw",
        help="load generator's HTTP client: a minimal HTTP/1.1 one (default: its CPU per request "
        "is a fraction of httpx's, and on a small machine every millisecond of it is taken from "
        "the service, which in production shares no cores with its clients), or httpx (both "
        "keep connections alive)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each phase, wait up to this long for the machine to be idle (a shared "
        "machine's other work skews every figure)",
    )
    parser.add_argument(
        "--keep-data",
        action="store_true",
        help="keep the run's data directory (service logs in <dir>/logs) instead of deleting it",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--profile",
        type=Path,
        help="run the (first) service under cProfile (event-loop CPU time) during each HTTP "
        "phase; its stats go to FILE's stem + -login / -refresh (slows it: figures of a profiled "
        "run are not the benchmark's)",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="sample the (first) service with py-spy (on PATH) during each HTTP phase; collapsed "
        "stacks and a summary go to DIR",
    )
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the service (e.g. ADX_DATABASE_POOL_SIZE=20); repeatable",
    )
    return parser.parse_args(argv)


def login_body(email: str) -> bytes:
    return json.dumps({"email": email, "password": PASSWORD}).encode()


async def login_phase(
    infra: BenchInfra, urls: list[str], emails: list[str], args: argparse.Namespace
) -> PhaseResult:
    bodies = itertools.cycle([login_body(email) for email in emails])
    async with posters(args.client, urls, args.login_clients) as http:

        async def login(index: int) -> None:
            status, _ = await http(index).post("/auth/login", next(bodies))
            if status != 200:
                raise OperationError(f"login HTTP {status}")

        return await drive(
            "login",
            login,
            clients=args.login_clients,
            warmup=args.warmup,
            duration=args.duration,
            roles=infra.roles,
        )


async def refresh_phase(
    infra: BenchInfra, urls: list[str], emails: list[str], args: argparse.Namespace
) -> PhaseResult:
    async with posters(args.client, urls, args.refresh_clients) as http:
        # One session per client, each rotating its own chain of refresh tokens.
        chains: list[str] = []
        for index in range(args.refresh_clients):
            status, content = await http(index).post(
                "/auth/login", login_body(emails[index % len(emails)])
            )
            if status != 200:
                raise OperationError(f"login HTTP {status}: {content[:200]!r}")
            chains.append(json.loads(content)["tokens"]["refresh_token"])

        async def refresh(index: int) -> None:
            body = json.dumps({"refresh_token": chains[index]}).encode()
            status, content = await http(index).post("/auth/refresh", body)
            if status != 200:
                raise OperationError(f"refresh HTTP {status}")
            chains[index] = json.loads(content)["refresh_token"]

        return await drive(
            "refresh",
            refresh,
            clients=args.refresh_clients,
            warmup=args.warmup,
            duration=args.duration,
            roles=infra.roles,
        )


def measured_verify_rate(
    infra: BenchInfra, threads: int, duration: float
) -> tuple[VerifyRate, float]:
    """The raw rate, and the background CPU share of the machine meanwhile."""
    before = CpuSnapshot.take(infra.roles)
    rate = verify_rate(threads, duration)
    background = CpuSnapshot.take(infra.roles).since(before)["background"]
    return rate, background / (duration * (os.cpu_count() or 1))


def server_cpu_ms(phase: PhaseResult) -> float:
    """CPU the servers (auth, PostgreSQL, Redis) spent per operation, load generator excluded."""
    cost = phase.summary()["cpu_ms_per_op"]
    assert isinstance(cost, dict)
    return sum(cost.get(role) or 0.0 for role in SERVER_ROLES)


def report(figures: dict[str, Any]) -> None:
    def met(ok: bool) -> str:
        return "MET" if ok else "MISSED"

    t = figures["targets"]
    d = figures["derived_without_load_generator"]
    print()
    print(f"machine: {figures['machine']['cpu_count']} cores, {figures['machine']['cpu_model']}")
    print(
        f"argon2id: {figures['argon2id']}; service processes: {figures['service_processes']}"
        f"{' (pinned, one CPU each)' if figures['pinned'] else ''}; client: {figures['client']}"
    )
    print(f"raw verify/s, 1 thread:          {figures['raw_verify_per_s_single']:8.1f}")
    print(
        f"raw verify/s, {figures['raw_verify_threads']} threads:         "
        f"{figures['raw_verify_per_s']:8.1f}   (before logins "
        f"{figures['raw_verify_per_s_before_logins']:.1f}, after "
        f"{figures['raw_verify_per_s_after_logins']:.1f})"
    )
    print(f"logins/s:                        {figures['logins_per_s']:8.1f}")
    print(
        f"logins/s / raw verify/s:         {figures['login_ratio']:8.3f}   "
        f"(target >= {LOGIN_RATIO_TARGET}: {met(t['login_ratio_met'])})"
    )
    print(f"refreshes/s:                     {figures['refreshes_per_s']:8.1f}")
    print(
        f"refreshes/s per core:            {figures['refreshes_per_s_per_core']:8.1f}   "
        f"(target >= {REFRESHES_PER_CORE_TARGET:g}: {met(t['refreshes_per_core_met'])})"
    )
    for phase in ("login", "refresh"):
        detail = figures["phases"][phase]
        print(
            f"\n{phase}: {detail['clients']} clients, latency p50 {detail['latency_ms']['p50']} ms,"
            f" p99 {detail['latency_ms']['p99']} ms, errors {detail['errors'] or 'none'}"
        )
        costs = sorted(detail["cpu_ms_per_op"].items())
        print("  CPU ms per operation: " + ", ".join(f"{role} {ms}" for role, ms in costs))
    print(
        "\nwithout the load generator's CPU (it shares the machine): server CPU per login "
        f"{d['server_cpu_ms_per_login']} ms vs {d['verify_cpu_ms']} ms per verify -> ratio "
        f"{d['login_ratio']}; server CPU per refresh {d['server_cpu_ms_per_refresh']} ms -> "
        f"{d['refreshes_per_core_second']} refreshes per core-second"
    )


def warn_about_background(figures: dict[str, Any]) -> None:
    busy = {k: v for k, v in figures["background_cpu_share"].items() if v > BACKGROUND_WARNING}
    if busy:
        print(
            "\nWARNING: other processes kept the machine busy during "
            + ", ".join(f"{k} ({v:.0%})" for k, v in busy.items())
            + ": the rates are skewed (CPU per operation much less); run again on a quiet machine."
        )


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cores = os.cpu_count() or 1
    extra_env = dict(item.split("=", 1) for item in args.service_env)
    with infrastructure(keep_data=args.keep_data) as infra:
        print(f"infrastructure up: database {infra.database}, data in {infra.data_dir}")
        emails = asyncio.run(
            create_verified_accounts(
                infra, args.users, PASSWORD, lambda user_id: f"bench-{user_id.hex[:16]}@example.com"
            )
        )
        profile = args.profile.resolve() if args.profile is not None else None
        services = [
            start_auth_service(
                infra,
                extra_env=extra_env,
                profile=profile if i == 0 else None,
                cpu=i % cores if args.pin else None,
            )
            for i in range(args.service_processes)
        ]
        urls = [url for _, url in services]
        first = services[0][0].pid
        profiled_process = services[0][0] if profile is not None else None
        print(f"auth service on {', '.join(urls)}; {len(emails)} users")

        def phase(label: str) -> None:
            if args.wait_quiet > 0:
                wait_until_quiet(args.wait_quiet)
            print(label)

        run = f"{args.duration:g}s"
        # Raw verifies just before and just after the logins: their mean is what the logins
        # compete against, even if the machine's speed drifts.
        phase(f"raw argon2id verifies, 1 thread: {run}")
        single, background_single = measured_verify_rate(infra, 1, args.duration)
        phase(f"raw argon2id verifies, {args.threads} threads: {run}")
        before, background_before = measured_verify_rate(infra, args.threads, args.duration)
        phase(f"logins: {args.login_clients} clients, {args.warmup:g}s warm-up + {run}")
        with sampled(first, "login", args.py_spy), profiled(profiled_process, "login", profile):
            logins = asyncio.run(login_phase(infra, urls, emails, args))
        phase(f"raw argon2id verifies, {args.threads} threads: {run}")
        after, background_after = measured_verify_rate(infra, args.threads, args.duration)
        phase(f"refreshes: {args.refresh_clients} clients, {args.warmup:g}s warm-up + {run}")
        with sampled(first, "refresh", args.py_spy), profiled(profiled_process, "refresh", profile):
            refreshes = asyncio.run(refresh_phase(infra, urls, emails, args))
        for process, _ in services:
            process.stop()
    raw = (before.per_second + after.per_second) / 2

    def share(phase: PhaseResult) -> float:
        return phase.cpu_seconds.get("background", 0.0) / (phase.seconds * cores)

    # CPU per verify with every core hashing: what a verify costs inside the busy service too.
    verify_ms = 1000 * (before.cpu_per_verify + after.cpu_per_verify) / 2
    figures: dict[str, Any] = {
        "machine": {
            "cpu_count": cores,
            "cpu_model": cpu_model(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "argon2id": parameters(),
        "service_processes": args.service_processes,
        "pinned": args.pin,
        "client": args.client,
        "duration_s": args.duration,
        "raw_verify_per_s_single": round(single.per_second, 2),
        "raw_verify_threads": args.threads,
        "raw_verify_per_s": round(raw, 2),
        "raw_verify_per_s_before_logins": round(before.per_second, 2),
        "raw_verify_per_s_after_logins": round(after.per_second, 2),
        "raw_verify_cpu_ms_single": round(1000 * single.cpu_per_verify, 3),
        "raw_verify_cpu_ms_parallel": round(verify_ms, 3),
        "logins_per_s": round(logins.per_second, 2),
        "login_ratio": round(logins.per_second / raw, 4),
        "refreshes_per_s": round(refreshes.per_second, 2),
        "refreshes_per_s_per_core": round(refreshes.per_second / cores, 2),
        # What the targets would read if the load generator had a machine of its own: one
        # core-second of server CPU, per operation's cost (a lower bound on a quiet machine).
        "derived_without_load_generator": {
            "verify_cpu_ms": round(verify_ms, 3),
            "server_cpu_ms_per_login": round(server_cpu_ms(logins), 3),
            "login_ratio": round(verify_ms / server_cpu_ms(logins), 4),
            "server_cpu_ms_per_refresh": round(server_cpu_ms(refreshes), 3),
            "refreshes_per_core_second": round(1000 / server_cpu_ms(refreshes), 1),
        },
        "phases": {"login": logins.summary(), "refresh": refreshes.summary()},
        "service_env": extra_env,
        # Share of the machine's CPU other processes used during each phase (should be ~0).
        "background_cpu_share": {
            "raw_single": round(background_single, 3),
            "raw_before_logins": round(background_before, 3),
            "login": round(share(logins), 3),
            "raw_after_logins": round(background_after, 3),
            "refresh": round(share(refreshes), 3),
        },
        "profiled": args.profile is not None or args.py_spy is not None,
    }
    figures["targets"] = {
        "login_ratio": LOGIN_RATIO_TARGET,
        "login_ratio_met": figures["login_ratio"] >= LOGIN_RATIO_TARGET,
        "refreshes_per_core": REFRESHES_PER_CORE_TARGET,
        "refreshes_per_core_met": figures["refreshes_per_s_per_core"] >= REFRESHES_PER_CORE_TARGET,
    }
    report(figures)
    warn_about_background(figures)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
