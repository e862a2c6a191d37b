"""HTTP clients of the load generator, both keeping their connection alive: httpx, and a
minimal HTTP/1.1 client on asyncio streams whose own CPU cost per request is a fraction of
httpx's (on a small machine the load generator competes with the service for the same cores)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Protocol
from urllib.parse import urlsplit

import httpx

JSON_HEADERS = {"content-type": "application/json"}


class Poster(Protocol):
    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST ``body`` as JSON; returns the status and the response body."""
        ...


class HttpxPoster:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        response = await self.client.post(path, content=body, headers=JSON_HEADERS)
        return response.status_code, response.content


class RawPoster:
    """One HTTP/1.1 keep-alive connection, one request at a time (each client of the closed
    loop, or each connection of the fixed-rate pool, holds its own); ``headers`` go with every
    request (e.g. ``authorization``)."""

    def __init__(
        self, url: str, headers: Mapping[str, str] | None = None, *, max_idle: float | None = None
    ) -> None:
        """``max_idle``: a connection idle longer is opened afresh before its next request (the
        server closes idle ones: uvicorn after 5 s; a request written into a connection it is
        closing is lost, which is the client's race, not the server's failure)."""
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self._head = f"Host: {self.host}:{self.port}\r\nContent-Type: application/json\r\n{extra}"
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._max_idle = max_idle
        self._last_used = 0.0

    async def post(
        self, path: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        return await self.request("POST", path, body, headers)

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self.request("GET", path)

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """One request; ``headers`` go with this one only (beside the connection's own)."""
        if (
            self._streams is not None
            and self._max_idle is not None
            and time.monotonic() - self._last_used > self._max_idle
        ):
            await self.close()
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        sized = f"Content-Length: {len(body)}\r\n" if body or method != "GET" else ""
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        start = f"{method} {path} HTTP/1.1\r\n{self._head}{extra}{sized}\r\n"
        writer.write(start.encode() + body)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, close = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                raise RuntimeError(f"unsupported transfer-encoding {value.strip()}")
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        content = await reader.readexactly(length) if length else b""
        self._last_used = time.monotonic()
        if close:
            await self.close()
        return status, content

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def posters(
    kind: str, urls: list[str], clients: int
) -> AsyncIterator[Callable[[int], Poster]]:
    """Client ``i`` talks to ``urls[i % len(urls)]`` on a kept-alive connection of its own."""
    if kind == "raw":
        raw = [RawPoster(urls[i % len(urls)]) for i in range(clients)]
        try:
            yield lambda index: raw[index]
        finally:
            for poster in raw:
                await poster.close()
        return
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with contextlib.AsyncExitStack() as stack:
        pool = [
            HttpxPoster(
                await stack.enter_async_context(
                    httpx.AsyncClient(base_url=u, limits=limits, timeout=60)
                )
            )
            for u in urls
        ]
        yield lambda index: pool[index % len(pool)]
