"""The export archive as a zip written as a stream: ``zipfile`` runs in a worker thread and
writes into a bounded queue the blob store's ``put_stream`` reads from, so neither the archive
nor a file is ever held whole in memory and the event loop never compresses."""

from __future__ import annotations

import asyncio
import io
import threading
import zipfile
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
_QUEUE_CHUNKS = 8
_DONE = b""


@dataclass(frozen=True)
class Entry:
    """One member of the archive: its name and where its bytes come from."""

    name: str
    chunks: Callable[[], AsyncIterator[bytes]]


class _Pipe(io.RawIOBase):
    """A write-only, unseekable file whose writes go to an asyncio queue (zipfile then writes
    data descriptors instead of seeking back)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes]) -> None:
        self._loop, self._queue = loop, queue
        #: Set by the reader when it stops reading: the writer then fails instead of blocking.
        self.abandoned = False
        self.finished = threading.Event()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.abandoned:
            raise OSError("the archive's reader stopped")
        chunk = bytes(data)
        if chunk:
            asyncio.run_coroutine_threadsafe(self._queue.put(chunk), self._loop).result()
        return len(chunk)


def _on_loop(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


async def _next(stream: AsyncIterator[bytes]) -> bytes | None:
    try:
        return await stream.__anext__()
    except StopAsyncIteration:
        return None


def _write_zip(loop: asyncio.AbstractEventLoop, pipe: _Pipe, entries: list[Entry]) -> None:
    try:
        with zipfile.ZipFile(pipe, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
            for entry in entries:
                stream = entry.chunks()
                with archive.open(entry.name, mode="w", force_zip64=True) as member:
                    while (chunk := _on_loop(loop, _next(stream))) is not None:
                        member.write(chunk)
    finally:
        pipe.finished.set()


async def zip_stream(entries: list[Entry]) -> AsyncIterator[bytes]:
    """The zip of ``entries``, chunk by chunk; an entry that fails fails the stream."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=_QUEUE_CHUNKS)
    pipe = _Pipe(loop, queue)

    async def produce() -> None:
        try:
            await asyncio.to_thread(_write_zip, loop, pipe, entries)
        finally:
            await queue.put(_DONE)

    producer = asyncio.create_task(produce())
    try:
        while (chunk := await queue.get()) != _DONE:
            yield chunk
        await producer  # raises what the writer raised
    finally:
        pipe.abandoned = True
        # Unblock a writer waiting on a full queue so its thread ends (it fails its next write).
        while not pipe.finished.is_set():
            while not queue.empty():
                queue.get_nowait()
            await asyncio.sleep(0.01)
        if not producer.done():
            await asyncio.gather(producer, return_exceptions=True)
