"""Virus scanning through ClamAV's clamd (INSTREAM over TCP, with ``aioclamd``).

``Scanner`` is the interface the ``file_upload`` scan step uses; ``ClamdScanner`` sends a blob to
clamd, ``no_scanner`` stands for a deployment without one (its verdict is ``not_scanned``). The
blob is spooled to a temporary file first (aioclamd reads a file object in a thread), so
memory stays bounded for any size."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from aioclamd import ClamdAsyncClient, ClamdConnectionError
from aioclamd import ClamdError as AioClamdError

from storage.blobs import BlobStore


class ScannerUnavailableError(RuntimeError):
    """clamd is configured but cannot be reached (or did not answer): retry later."""


class ScanRefusedError(RuntimeError):
    """clamd answered with an error for this stream (too large for its limits, say)."""


@dataclass(frozen=True)
class Finding:
    infected: bool
    signature: str | None = None


@dataclass(frozen=True)
class ClamdScanner:
    host: str
    port: int
    timeout: float
    spool_dir: Path

    @classmethod
    def from_address(cls, address: str, timeout: float, spool_dir: Path) -> ClamdScanner:
        host, _, port = address.rpartition(":")
        return cls(host, int(port), timeout, spool_dir)

    async def scan(self, store: BlobStore, key: str) -> Finding:
        client = ClamdAsyncClient(self.host, self.port, timeout=self.timeout)
        await asyncio.to_thread(self.spool_dir.mkdir, parents=True, exist_ok=True)
        spool: IO[bytes] = await asyncio.to_thread(_spool_file, self.spool_dir)
        try:
            async for chunk in store.stream(key):
                await asyncio.to_thread(spool.write, chunk)
            await asyncio.to_thread(spool.seek, 0)
            try:
                answer = await client.instream(spool)
            except (ClamdConnectionError, OSError) as error:
                raise ScannerUnavailableError(
                    f"clamd at {self.host}:{self.port}: {error}"
                ) from error
            except AioClamdError as error:
                raise ScanRefusedError(str(error)[:200]) from error
        finally:
            await asyncio.to_thread(spool.close)
        if not answer:
            raise ScannerUnavailableError("clamd closed the connection without a verdict")
        status, signature = next(iter(answer.values()))
        if status == "FOUND":
            return Finding(True, (signature or "unknown")[:255])
        if status == "OK":
            return Finding(False)
        raise ScanRefusedError(f"clamd answered {status}: {signature}"[:200])


def _spool_file(directory: Path) -> IO[bytes]:
    return tempfile.TemporaryFile("w+b", dir=directory)
