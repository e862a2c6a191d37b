"""ASGI middleware shared by every HTTP app: request ids bound into logs, request-size limit,
JSON bodies checked before the app parses them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.errors import PROBLEM_JSON
from services.common.json_input import json_problem


class RequestContextMiddleware:
    """Takes ``X-Request-ID`` (or makes one), binds it into log lines and echoes it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = raw if 0 < len(raw) <= 128 and raw.isprintable() else uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")


class StreamedPaths:
    """The paths of upload routes that stream their body to storage and enforce limits of their
    own (the file service's direct and tus uploads); an entry ending in ``/`` is a prefix. The
    size limit and the JSON guard pass their bodies through untouched (never buffered)."""

    def __init__(self, paths: Sequence[str] = ()) -> None:
        self.exact = frozenset(p for p in paths if not p.endswith("/"))
        self.prefixes = tuple(p for p in paths if p.endswith("/"))

    def __call__(self, scope: Scope) -> bool:
        path = str(scope.get("path", ""))
        return path in self.exact or path.startswith(self.prefixes)


class BodySizeLimitMiddleware:
    """Rejects bodies above ``max_bytes`` with 413 problem+json, declared or streamed (except
    on ``streamed`` paths)."""

    def __init__(self, app: ASGIApp, max_bytes: int, streamed: StreamedPaths | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._streamed = streamed or StreamedPaths()

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            {
                "type": "https://adx.dev/problems/payload-too-large",
                "title": "Payload too large",
                "status": 413,
                "detail": f"Request bodies are limited to {self.max_bytes} bytes.",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", PROBLEM_JSON.encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._streamed(scope):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        received = 0
        rejected = False

        async def limited_receive() -> Message:
            # Past the limit: answer 413 at once and tell the app the client has gone, so it
            # stops reading; whatever it tries to answer afterwards is dropped.
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    rejected = True
                    await self._reject(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not rejected:
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not rejected:
                raise


def is_json_media_type(content_type: bytes) -> bool:
    """``application/json`` and any ``application/<x>+json``, parameters ignored."""
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


class JsonBodyGuardMiddleware:
    """Refuses a JSON body that is not UTF-8 or nests deeper than ``MAX_JSON_DEPTH`` (400), or
    carries a lone surrogate escape (422), with problem+json before any route parses it
    (services/common/json_input.py). Sits inside ``BodySizeLimitMiddleware``, so at most the
    body limit is buffered. Other bodies and content types pass untouched, and so do the
    bodies of ``streamed`` paths (uploads, whatever content type they claim)."""

    def __init__(self, app: ASGIApp, streamed: StreamedPaths | None = None) -> None:
        self.app = app
        self._streamed = streamed or StreamedPaths()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") in ("GET", "HEAD", "OPTIONS")
            or self._streamed(scope)
        ):
            await self.app(scope, receive, send)
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
        if not is_json_media_type(content_type):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left (or the size limit hit)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = json_problem(body)
        if problem is not None:
            await _send_problem(send, problem.status, problem.detail)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # only a disconnect can follow a complete body
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


#: ``type`` and ``title`` of the JSON refusals: unreadable (400) and not text (422).
_JSON_PROBLEMS = {
    400: ("https://adx.dev/problems/malformed-body", "Malformed request body"),
    422: ("https://adx.dev/problems/invalid-input", "Invalid input"),
}


async def _send_problem(send: Send, status: int, detail: str) -> None:
    type_, title = _JSON_PROBLEMS[status]
    body = json.dumps(
        {
            "type": type_,
            "title": title,
            "status": status,
            "detail": detail,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
