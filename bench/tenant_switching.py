"""Tenant-switching benchmark: ``POST /auth/switch-tenant`` against a login-free token refresh
(``POST /auth/refresh``), both through one auth process over real HTTP, in one run on one
machine (``python -m bench.tenant_switching [--duration 10] [--json out.json]``, or
``make bench-tenant``). Target: a switch costs at most 1.5x a refresh (calls/s and p99): it is
one statement and one signed token, as a refresh is; its ``tenant_switching`` bookkeeping runs
are throttled per session (at most one start per session per second,
``services/auth/switching/bookkeeping.py``; the auth process runs in ``--mode http`` and the
starts go to the dev server; no tenant worker runs them here, so only the starts are paid).

Then, in the same run and infrastructure, ``createTenant`` end to end (mutation to COMPLETED
over the subscription) against a bare workflow with as many no-op activities
(``bench/tenant_create.py``, target 1.5x; ``--create-duration 0`` skips it). Not a test: it
asserts nothing, it measures and reports."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from bench import tenant_create
from bench.argon2_rate import PASSWORD
from bench.infra import BenchInfra, create_verified_accounts, infrastructure, start_auth_service
from bench.load import OperationError, PhaseResult, drive, wait_until_quiet
from storage.auth.models import PrincipalClaims
from workflows.tenant.permissions import BuiltInRole, built_in_permissions

RATIO_TARGET = 1.5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="uncounted seconds before each")
    parser.add_argument("--clients", type=int, default=4 * cores)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--create-duration", type=float, default=20.0, help="seconds per createTenant phase"
    )
    parser.add_argument("--create-clients", type=int, default=4)
    return parser.parse_args(argv)


async def add_claims(infra: BenchInfra, emails: list[str]) -> dict[str, tuple[str, str]]:
    """Each account a member of two tenants (owner of one, viewer of the other)."""
    engine = create_async_engine(infra.settings().database_url)
    tenants: dict[str, tuple[str, str]] = {}
    try:
        async with engine.begin() as conn:
            from sqlalchemy import text

            rows = (
                await conn.execute(
                    text("SELECT id, email FROM auth.credentials WHERE email = ANY(:e)"),
                    {"e": emails},
                )
            ).all()
            claims = []
            for user_id, email in rows:
                a, b = uuid.uuid4(), uuid.uuid4()
                tenants[email] = (str(a), str(b))
                for tenant, role in ((a, BuiltInRole.OWNER), (b, BuiltInRole.VIEWER)):
                    perms = sorted(built_in_permissions(role) or ())
                    claims.append(
                        {
                            "user_id": user_id,
                            "tenant_id": tenant,
                            "roles": [role],
                            "permissions": perms,
                        }
                    )
            await conn.execute(PrincipalClaims.__table__.insert(), claims)  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
    return tenants


async def sessions(
    client: httpx.AsyncClient, emails: list[str], tenants: dict[str, tuple[str, str]], n: int
) -> list[dict[str, Any]]:
    out = []
    for index in range(n):
        email = emails[index % len(emails)]
        answer = await client.post(
            "/auth/login",
            json={"email": email, "password": PASSWORD, "tenant_id": tenants[email][0]},
        )
        if answer.status_code != 200:
            raise OperationError(f"login HTTP {answer.status_code}: {answer.text[:200]}")
        out.append({**answer.json()["tokens"], "tenants": tenants[email], "at": 0})
    return out


async def measure(infra: BenchInfra, url: str, args: argparse.Namespace) -> dict[str, Any]:
    emails = await create_verified_accounts(
        infra, args.clients, PASSWORD, lambda user_id: f"switch-{user_id.hex[:12]}@example.com"
    )
    tenants = await add_claims(infra, emails)
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        chains = await sessions(client, emails, tenants, args.clients)

        async def refresh(index: int) -> None:
            chain = chains[index]
            answer = await client.post(
                "/auth/refresh", json={"refresh_token": chain["refresh_token"]}
            )
            if answer.status_code != 200:
                raise OperationError(f"refresh HTTP {answer.status_code}")
            chain.update(answer.json())

        async def switch(index: int) -> None:
            chain = chains[index]
            chain["at"] ^= 1
            answer = await client.post(
                "/auth/switch-tenant",
                json={"tenant_id": chain["tenants"][chain["at"]]},
                headers={"authorization": f"Bearer {chain['access_token']}"},
            )
            if answer.status_code != 200:
                raise OperationError(f"switch HTTP {answer.status_code}")
            chain["access_token"] = answer.json()["access_token"]

        results: dict[str, PhaseResult] = {}
        for name, operation in (("refresh", refresh), ("switch_tenant", switch)):
            wait_until_quiet(10)
            results[name] = await drive(
                name,
                operation,
                clients=args.clients,
                warmup=args.warmup,
                duration=args.duration,
                roles=infra.roles,
            )
    refresh_r, switch_r = results["refresh"], results["switch_tenant"]
    time_ratio = refresh_r.per_second / switch_r.per_second if switch_r.per_second else None
    p99_ratio = switch_r.latency_ms(0.99) / refresh_r.latency_ms(0.99)
    return {
        "phases": {name: r.summary() for name, r in results.items()},
        "switch_vs_refresh": {
            "throughput_cost_ratio": round(time_ratio, 3) if time_ratio else None,
            "p99_ratio": round(p99_ratio, 3),
            "target": RATIO_TARGET,
            "met": bool(time_ratio and time_ratio <= RATIO_TARGET and p99_ratio <= RATIO_TARGET),
        },
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with infrastructure() as infra:
        _, url = start_auth_service(infra, mode="http")
        figures = asyncio.run(measure(infra, url, args))
        if args.create_duration > 0:
            create_args = argparse.Namespace(
                duration=args.create_duration, warmup=3.0, clients=args.create_clients, json=None
            )
            figures["create_tenant"] = tenant_create.run_in(infra, create_args)
    figures["machine"] = {"cpus": os.cpu_count()}
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
