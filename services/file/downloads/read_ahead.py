"""Read ahead of the socket: a download's next chunks are read from the blob store (a thread's
disk read, an S3 GET) while the current one is being sent, instead of one after the other.
On a cold page cache this overlaps the disk with the network (``make bench-file``: roughly
twice the MiB/s); the memory held is bounded by ``depth`` chunks per download."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

#: Chunks read ahead of the one being sent (each ``storage.blobs.DEFAULT_CHUNK_SIZE``, 1 MiB).
DEPTH = 2


class _End:
    """The source ran out (``error`` None) or failed."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


async def read_ahead(chunks: AsyncIterator[bytes], depth: int = DEPTH) -> AsyncIterator[bytes]:
    """``chunks`` as they were, read up to ``depth`` ahead by a task of their own. A failure of
    the source is raised here, at the point of the stream it happened; a client that goes
    away (this generator closed) stops the reader and closes the source."""
    queue: asyncio.Queue[bytes | _End] = asyncio.Queue(maxsize=depth)

    async def pump() -> None:
        try:
            async for chunk in chunks:
                await queue.put(chunk)
        except Exception as error:
            await queue.put(_End(error))
            return
        finally:
            with contextlib.suppress(Exception):
                await chunks.aclose()  # type: ignore[attr-defined]
        await queue.put(_End())

    reader = asyncio.create_task(pump())
    try:
        while not isinstance(item := await queue.get(), _End):
            yield item
        if item.error is not None:
            raise item.error
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
