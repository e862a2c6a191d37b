"""Helpers of the routing tests on real processes: service instances and a gateway of their own
beside the session stack, a counting backend that answers 502, and reading ``/metrics``."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from services.common.settings import ServiceName
from services.devstack.ports import free_port, wait_for_http
from services.devstack.processes import ManagedProcess
from tests.support import Stack, start_service


def start_instance(
    stack: Stack, service: ServiceName, port: int, log_dir: Path, name: str
) -> ManagedProcess:
    """One more HTTP instance of ``service`` (same database, Redis and Temporal as the stack)."""
    env = {**stack.env, f"ADX_{service.value.upper()}_PORT": str(port)}
    proc = start_service(service, env, log_dir, mode="http", name=name)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health/ready", timeout=90, process=proc)
    except BaseException:
        proc.stop()
        raise
    return proc


@contextmanager
def gateway_process(
    stack: Stack, log_dir: Path, name: str, env: Mapping[str, str]
) -> Iterator[str]:
    """A gateway of its own beside the stack, with ``env`` on top; yields its base URL."""
    port = free_port()
    merged = {**stack.env, "ADX_GATEWAY_PORT": str(port), **env}
    proc = start_service(ServiceName.gateway, merged, log_dir, mode="http", name=name)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health/live", timeout=60, process=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


class CountingBackend:
    """An HTTP server that counts the requests it gets (by method and path) and answers each
    with ``status`` (502: "the instance behind this address is unreachable", as a proxy says)."""

    def __init__(self, status: int = 502) -> None:
        self.status = status
        self.requests: list[tuple[str, str]] = []
        lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                with lock:
                    backend.requests.append((self.command, self.path.split("?")[0]))
                body = b'{"detail": "bad gateway"}'
                self.send_response(backend.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _answer

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return sum(
            1
            for m, p in list(self.requests)
            if (method is None or m == method) and (path is None or p == path)
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def metric(base: str, name: str, **labels: str) -> float | None:
    """The value of one series on the gateway's ``/metrics`` (``None``: not there)."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match is None:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1)))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(2))
    return None
