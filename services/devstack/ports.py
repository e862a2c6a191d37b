"""TCP port helpers: pick a free port, fail fast on a taken one, wait for a port or URL to answer."""

from __future__ import annotations

import contextlib
import random
import socket
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import psutil

from services.devstack.processes import DevStackError, ManagedProcess


def _ephemeral_range() -> tuple[int, int]:
    """The range the kernel hands out for ``bind(("", 0))`` and outgoing connections."""
    with contextlib.suppress(OSError, ValueError):
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    return 32768, 60999


#: Ports handed out by free_port(): below the ephemeral range, above well-known services.
_PICK_LOW = 20000


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free now and that the kernel will not hand out on its own.

    Picking with ``bind(0)`` returns an ephemeral port, which the kernel may give to any other
    ``bind(0)`` (the Temporal dev server picks its internal ports that way) before our server
    binds it. Ports below the ephemeral range are only taken by someone naming them, so the
    remaining race is with another caller of this function (random choice makes it unlikely).
    """
    low, high = _ephemeral_range()
    first, last = (_PICK_LOW, low - 1) if low > _PICK_LOW + 1000 else (high + 1, 65535)
    for _ in range(200):
        port = random.randint(first, last)  # noqa: S311 - not security relevant
        if port_is_free(port, host):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if a server could bind ``host:port`` now.

    SO_REUSEADDR, as servers set it, so a port whose old connections sit in TIME_WAIT counts as
    free; a listening socket (also on 0.0.0.0 or [::]) makes the bind fail.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _listener_of(port: int) -> str:
    """' (held by pid N: cmdline)' when we may see who listens on ``port``, else ''."""
    with contextlib.suppress(psutil.Error, OSError):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if conn.pid is None:
                    return ""
                cmdline = " ".join(psutil.Process(conn.pid).cmdline())[:120]
                return f" (held by pid {conn.pid}: {cmdline})"
    return ""


def ensure_ports_free(ports: Mapping[int, str], host: str = "127.0.0.1") -> None:
    """Raise DevStackError naming every taken port and what it was wanted for.

    ``ports`` maps a port to its purpose, e.g. ``{7233: "Temporal frontend (gRPC)"}``.
    """
    taken = [port for port in ports if not port_is_free(port, host)]
    if taken:
        lines = [f"  port {port} for {ports[port]}{_listener_of(port)}" for port in taken]
        raise DevStackError(
            "port(s) already in use:\n"
            + "\n".join(lines)
            + "\nStop whatever holds them (an earlier `make run`?), or point ADX_* settings at "
            "the servers already running (see README)."
        )


def _check_alive(process: ManagedProcess | None, what: str) -> None:
    if process is not None and process.pid is not None and not process.is_running():
        raise DevStackError(f"{what}: {process.describe_exit()}")


def wait_for_port(
    host: str,
    port: int,
    timeout: float = 30.0,
    *,
    process: ManagedProcess | None = None,
) -> None:
    """Wait until ``host:port`` accepts TCP connections.

    Fails early (with the process's last output) if ``process`` exits meanwhile.
    """
    deadline = time.monotonic() + timeout
    while True:
        _check_alive(process, f"exited before {host}:{port} accepted connections")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            pass
        if time.monotonic() >= deadline:
            raise DevStackError(f"{host}:{port} did not accept connections within {timeout:g}s")
        time.sleep(0.1)


def wait_for_http(
    url: str,
    timeout: float = 30.0,
    expect_status: int = 200,
    *,
    process: ManagedProcess | None = None,
) -> None:
    """Wait until GET ``url`` answers ``expect_status``; fails early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    with httpx.Client(timeout=2.0) as client:
        while True:
            _check_alive(process, f"exited before {url} answered")
            try:
                status = client.get(url).status_code
                if status == expect_status:
                    return
                last = f"HTTP {status}"
            except httpx.HTTPError as error:
                last = f"{type(error).__name__}: {error}"
            if time.monotonic() >= deadline:
                raise DevStackError(
                    f"{url} did not answer {expect_status} within {timeout:g}s (last: {last})"
                )
            time.sleep(0.2)


def accepts_connections(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something listens on ``host:port`` (e.g. the machine's own PostgreSQL)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
