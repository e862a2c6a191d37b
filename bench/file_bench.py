"""File service throughput and memory (``make bench-file``, or ``python -m bench.file_bench
[--mib 256] [--rss-mib 1024] [--json out.json]``).

The file service runs as a process (HTTP and worker, ``--mode both``, no scanner configured) over
the bench's own Temporal, PostgreSQL and Redis, with the local blob store. Measured:

- upload MiB/s: ``--mib`` MiB streamed to ``POST /files`` (chunked, 1 MiB chunks) until its 202,
  against writing the same chunks with ``LocalBlobStore.put_stream`` to a store on the same disk;
- download MiB/s: the ready file read back from ``GET /files/{id}/content``, against
  ``LocalBlobStore.stream`` of the same blob; targets: the service at >= 0.7x the store for both;
- peak RSS growth of the file service process (``/proc/<pid>/status`` VmRSS sampled every 20 ms)
  during an upload of ``--rss-mib`` MiB, measured first (after an 8 MiB warm-up upload);
  target < 64 MiB.

A token is minted in this process with the auth runtime's issuer (its JWKS published to Redis
where the file service reads it); the tenant's quota is raised first. Not a test: it reports."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from bench.infra import BenchInfra, infrastructure
from bench.tenant_create import start_stack
from services.auth.runtime import runtime_for
from services.common.resources import Resources
from services.common.settings import ServiceName
from services.common.tokens import publish_jwks
from storage.blobs import LocalBlobStore
from storage.db import transaction
from storage.files.repository import StoragePolicyRepository

MIB = 1024 * 1024
TARGET_RATIO = 0.7
TARGET_RSS_MIB = 64


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256, help="size of the timed file (MiB)")
    parser.add_argument("--rss-mib", type=int, default=1024, help="size of the RSS upload (MiB)")
    parser.add_argument("--json", help="write the figures to this file")
    return parser.parse_args(argv)


_BLOCK = os.urandom(MIB)


async def _chunks(mib: int) -> AsyncIterator[bytes]:
    for index in range(mib):
        # Each chunk differs (no store can dedupe), at the cost of one small copy.
        yield index.to_bytes(8, "big") + _BLOCK[8:]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _peak_rss(pid: int, stop: asyncio.Event) -> int:
    peak = 0
    while not stop.is_set():
        peak = max(peak, _rss_kib(pid))
        await asyncio.sleep(0.02)
    return max(peak, _rss_kib(pid))


async def _caller(infra: BenchInfra) -> tuple[str, uuid.UUID]:
    """A token for a new tenant with room for every upload of the run."""
    settings = infra.settings()
    auth = await Resources.open(settings, ServiceName.auth)
    files = await Resources.open(settings, ServiceName.file)
    try:
        runtime = runtime_for(auth)
        await publish_jwks(auth.redis, auth.redis_keys, "file-bench", runtime.keys.jwks())
        tenant_id = uuid.uuid4()
        async with transaction(files.database, tenant_id) as db:
            await StoragePolicyRepository(db, tenant_id).put(64 * 1024 * MIB, None)
        token = runtime.issuer.access_token(
            user_id=str(uuid.uuid4()),
            session_id=str(uuid.uuid4()),
            tenant_id=str(tenant_id),
            roles=["owner"],
            auth_methods=["pwd"],
            permissions=("files.read", "files.write"),
        )
        return token, tenant_id
    finally:
        await auth.close()
        await files.close()


async def _upload(http: httpx.AsyncClient, name: str, mib: int) -> tuple[float, str]:
    began = time.perf_counter()
    answer = await http.post(
        "/files",
        params={"name": name},
        content=_chunks(mib),
        headers={"content-type": "application/octet-stream"},
    )
    seconds = time.perf_counter() - began
    answer.raise_for_status()
    return seconds, str(answer.json()["file"]["id"])


async def _ready(http: httpx.AsyncClient, file_id: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = (await http.get(f"/files/{file_id}")).json()["status"]
        if status == "ready":
            return
        if status in {"rejected", "quarantined"}:
            raise SystemExit(f"the bench file ended {status}")
        await asyncio.sleep(0.2)
    raise SystemExit("the bench file never became ready")


async def _download(http: httpx.AsyncClient, file_id: str) -> tuple[float, int]:
    began, size = time.perf_counter(), 0
    async with http.stream("GET", f"/files/{file_id}/content") as answer:
        answer.raise_for_status()
        async for chunk in answer.aiter_raw(MIB):
            size += len(chunk)
    return time.perf_counter() - began, size


async def _store_baseline(root: Path, mib: int) -> tuple[float, float]:
    store = LocalBlobStore(root)
    key = f"bench/{uuid.uuid4().hex}"
    began = time.perf_counter()
    await store.put_stream(key, _chunks(mib))
    write = time.perf_counter() - began
    began, size = time.perf_counter(), 0
    async for chunk in store.stream(key):
        size += len(chunk)
    read = time.perf_counter() - began
    assert size == mib * MIB
    await store.delete(key)
    return write, read


async def measure(infra: BenchInfra, args: argparse.Namespace) -> dict[str, Any]:
    limit = max(args.mib, args.rss_mib)
    ports = start_stack(
        infra, [ServiceName.file], extra_env={"ADX_FILE_MAX_DIRECT_UPLOAD_MIB": str(limit)}
    )
    pid = next(p.pid for p in infra.processes if p.name == "file" and p.pid is not None)
    token, _ = await _caller(infra)
    store_root = infra.settings().blob_root() / "bench-baseline"
    base = f"http://127.0.0.1:{ports[ServiceName.file]}"
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=600) as http:
        await _upload(http, "warm-up.bin", 8)  # first request: imports, pools
        # RSS first, on the process as it starts serving: later large transfers would have
        # raised its high-water mark already (the allocator keeps freed pages).
        before = _rss_kib(pid)
        stop = asyncio.Event()
        sampler = asyncio.create_task(_peak_rss(pid, stop))
        try:
            await _upload(http, "rss.bin", args.rss_mib)
        finally:
            stop.set()
        peak = await sampler
        store_write, store_read = await _store_baseline(store_root, args.mib)
        upload_s, file_id = await _upload(http, "timed.bin", args.mib)
        await _ready(http, file_id)
        download_s, size = await _download(http, file_id)
        assert size == args.mib * MIB, size

    figures = {
        "mib": args.mib,
        "upload_mib_s": round(args.mib / upload_s, 1),
        "store_write_mib_s": round(args.mib / store_write, 1),
        "download_mib_s": round(args.mib / download_s, 1),
        "store_read_mib_s": round(args.mib / store_read, 1),
        "rss_upload_mib": args.rss_mib,
        "rss_before_mib": round(before / 1024, 1),
        "rss_peak_mib": round(peak / 1024, 1),
        "rss_growth_mib": round((peak - before) / 1024, 1),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    figures["upload_ratio"] = round(figures["upload_mib_s"] / figures["store_write_mib_s"], 2)
    figures["download_ratio"] = round(figures["download_mib_s"] / figures["store_read_mib_s"], 2)
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with infrastructure() as infra:
        figures = asyncio.run(measure(infra, args))
    print(json.dumps(figures, indent=2))
    for what in ("upload", "download"):
        ratio = figures[f"{what}_ratio"]
        verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
        print(f"{what}: {ratio}x the blob store (target >= {TARGET_RATIO}: {verdict})")
    growth = figures["rss_growth_mib"]
    verdict = "met" if growth < TARGET_RSS_MIB else "NOT met"
    print(f"RSS growth over a {args.rss_mib} MiB upload: {growth} MiB (target < 64: {verdict})")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
