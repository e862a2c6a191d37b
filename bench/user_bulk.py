"""Bulk import rows/s (``make bench-user-bulk``, or ``python -m bench.user_bulk [--rows 10000]
[--batch-size 500] [--json out.json]``).

The auth, user, tenant and file services run as processes (HTTP and workers, as in production);
a tenant is provisioned through ``POST /tenants`` (its seat quota raised to fit the rows), its
owner signs in to it, and one CSV of ``--rows`` new people is uploaded to
``POST /users/bulk/operations?operation=import``. ``bulk_user_operation`` runs the import batched
(``bulk-import-batched``: per batch of ``--batch-size`` rows, one activity per service for the
accounts, memberships, claims, user rows and welcome mails). Measured: the upload's answer time, and rows/s from the upload to the
report's ``completed`` (polled every 0.5 s), with the done and failed counts.

Target: at least 500 rows/s on the 2-core machine. Not a test: it measures and reports."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from typing import Any

import asyncpg
import httpx

from bench.argon2_rate import PASSWORD
from bench.infra import BenchInfra, create_verified_accounts, infrastructure
from bench.tenant_create import start_stack
from services.common.settings import ServiceName

TARGET_ROWS_PER_SECOND = 500


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--parallelism", type=int, default=20, help="ADX_USER_BULK_PARALLELISM")
    parser.add_argument("--batch-size", type=int, default=500, help="ADX_USER_BULK_BATCH_SIZE")
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after (seconds)")
    parser.add_argument("--json", help="also write the figures to this file")
    return parser.parse_args(argv)


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
    )
    tenant_id, token, owner = await _tenant(infra, ports, args.rows + 10)
    body = csv_rows(args.rows)
    user = f"http://127.0.0.1:{ports[ServiceName.user]}"
    headers = {"authorization": f"Bearer {token}"}
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
        report: dict[str, Any] = {}
        while time.perf_counter() - began < args.timeout:
            await asyncio.sleep(0.5)
            got = await http.get(f"/users/bulk/{workflow_id}/report")
            if got.status_code == 401:  # the access token expired: sign in again
                auth = f"http://127.0.0.1:{ports[ServiceName.auth]}"
                token = await _login(auth, owner, tenant_id)
                http.headers["authorization"] = f"Bearer {token}"
                continue
            got.raise_for_status()
            report = got.json()
            if report["status"] != "running":
                break
        elapsed = time.perf_counter() - began
    handled = report.get("done", 0) + report.get("failed", 0)
    return {
        "rows": args.rows,
        "parallelism": args.parallelism,
        "batch_size": args.batch_size,
        "upload_seconds": round(uploaded, 3),
        "seconds": round(elapsed, 1),
        "status": report.get("status"),
        "done": report.get("done"),
        "failed": report.get("failed"),
        "rows_per_second": round(handled / elapsed, 1) if elapsed else 0.0,
        "target_rows_per_second": TARGET_ROWS_PER_SECOND,
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
