"""The instances of one backend service and which of them a call goes to.

``ADX_<SERVICE>_SERVICE_URL`` lists one or more base URLs; a URL whose host is a name is
resolved (every address it has is an instance of its own, re-resolved at every check), a
literal address is one instance. A call goes to the instance with the fewest calls in flight
among the *available* ones (round-robin among equals): the active check (``GET /health/ready``
every ``ADX_INSTANCE_CHECK_SECONDS``) last found it ready and its own circuit breaker is not
open (the passive check: failures to reach it). When no instance is both, the ones whose
breaker lets a call through are used anyway (a service whose readiness fails because, say,
Temporal is down may still answer reads); when every breaker is open there is none.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from gateway.breakers import Breaker, Breakers
from services.common.logging import get_logger
from services.common.settings import ServiceName

_log = get_logger(__name__)

READY_PATH = "/health/ready"
#: The longest wait for one readiness answer.
CHECK_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class Target:
    """One configured base URL."""

    url: str
    scheme: str
    host: str
    port: int
    prefix: str

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) base URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(url, parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def is_address(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


async def addresses_of(host: str, port: int) -> list[str]:
    """The addresses a service name resolves to (the system resolver: /etc/hosts, DNS), each
    once, in the resolver's order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _label(target: Target, address: str | None) -> str:
    return target.url if address in (None, target.host) else f"{target.url} ({address})"


class Instance:
    """One address of a service: where calls go, its breaker, what the checks found."""

    def __init__(self, service: ServiceName, target: Target, address: str | None, breaker: Breaker):
        self.service = service
        self.target = target
        self.address = address
        self.base_url = (
            f"{target.scheme}://{_netloc(address, target.port)}{target.prefix}"
            if address
            else target.url
        )
        #: The name the service is called by, when the connection goes to one of its addresses.
        self.host_header = _netloc(target.host, target.port) if address else None
        self.breaker = breaker
        self.ready = True  # until the first check says otherwise
        self.in_flight = 0

    @property
    def label(self) -> str:
        """The instance on ``/metrics`` and in logs: its URL (with the address it resolved to)."""
        return _label(self.target, self.address)

    @property
    def available(self) -> bool:
        return self.ready and not self.breaker.rejects()

    def url(self, path: str) -> str:
        return self.base_url + path

    def request_extensions(self) -> dict[str, str]:
        """For https to an address: verify the certificate against the service's name."""
        if self.address and self.target.scheme == "https":
            return {"sni_hostname": self.target.host}
        return {}


class InstancePool:
    """The instances of one service; ``pick`` chooses where the next call goes."""

    def __init__(self, service: ServiceName, urls: Iterable[str], breakers: Breakers) -> None:
        self.service = service
        self.targets = tuple(Target.parse(url) for url in urls)
        if not self.targets:
            raise ValueError(f"no URL for the {service.value} service")
        self._breakers = breakers
        self.instances: list[Instance] = [self._instance(t, None) for t in self.targets]
        self._turn = itertools.count()

    def _instance(self, target: Target, address: str | None) -> Instance:
        breaker = self._breakers.get(f"{self.service.value}@{_label(target, address)}")
        return Instance(self.service, target, address, breaker)

    def pick(self, exclude: Iterable[Instance] = ()) -> Instance | None:
        """The available instance with the fewest calls in flight (taking turns among equals),
        skipping ``exclude``; else one whose breaker lets a call through; else ``None``."""
        chosen = self._choices(exclude)
        if not chosen:
            return None
        start = next(self._turn) % len(chosen)
        ordered = chosen[start:] + chosen[:start]
        return min(ordered, key=lambda i: i.in_flight)

    def has_another(self, exclude: Iterable[Instance]) -> bool:
        """Whether ``pick(exclude)`` would find an instance (without taking a turn)."""
        return bool(self._choices(exclude))

    def _choices(self, exclude: Iterable[Instance]) -> list[Instance]:
        skipped = set(map(id, exclude))
        candidates = [i for i in self.instances if id(i) not in skipped]
        return [i for i in candidates if i.available] or [
            i for i in candidates if not i.breaker.rejects()
        ]

    # -- active checks -----------------------------------------------------------------------

    async def resolve(self) -> None:
        """Resolve the targets given by name again; instances whose address went away are
        dropped, new addresses become instances. A failed resolution keeps what there was."""
        instances: list[Instance] = []
        current = {(i.target, i.address): i for i in self.instances}
        for target in self.targets:
            if target.is_address:
                instances.append(current.get((target, None)) or self._instance(target, None))
                continue
            try:
                addresses = await addresses_of(target.host, target.port)
            except OSError as error:
                _log.warning(
                    "service_name_unresolved",
                    service=self.service.value,
                    url=target.url,
                    error=str(error),
                )
                instances.extend(i for i in self.instances if i.target == target)
                continue
            for address in addresses:
                known = current.get((target, address))
                instances.append(known or self._instance(target, address))
        kept = {id(i) for i in instances}
        for gone in self.instances:
            if id(gone) not in kept:
                _log.info(
                    "service_instance_removed", service=self.service.value, instance=gone.label
                )
                self._breakers.forget(gone.breaker.name)
        self.instances = instances

    async def check(self, http: httpx.AsyncClient) -> None:
        """Ask every instance whether it is ready; log each one that goes out or comes back."""
        await asyncio.gather(*(self._check_one(http, i) for i in self.instances))

    async def _check_one(self, http: httpx.AsyncClient, instance: Instance) -> None:
        headers = {"host": instance.host_header} if instance.host_header else None
        try:
            response = await http.get(
                instance.url(READY_PATH),
                headers=headers,
                timeout=CHECK_TIMEOUT_SECONDS,
                extensions=instance.request_extensions(),
            )
            ready, reason = response.status_code == 200, f"HTTP {response.status_code}"
        except httpx.HTTPError as error:
            ready, reason = False, type(error).__name__
        if ready != instance.ready:
            event = "service_instance_ready" if ready else "service_instance_not_ready"
            log = _log.info if ready else _log.warning
            log(event, service=self.service.value, instance=instance.label, reason=reason)
        instance.ready = ready
