"""Proving a domain: the tenant publishes ``_adx-verification.<domain>`` TXT
``adx-verification=<token>``, and the service asks the configured name servers
(``ADX_TENANT_DNS_NAMESERVERS``, never the machine's resolver configuration) for it.

Outcomes: the token is among the record's strings (verified); no such name, no TXT record, or
none with the token (not verified, 409 ``DomainNotVerified``, the caller fixes their DNS); no
name server answered in time or every one failed (503, try again)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import Enum

import dns.asyncresolver
import dns.exception
import dns.resolver

from services.common.logging import get_logger

RECORD_PREFIX = "_adx-verification"
VALUE_PREFIX = "adx-verification="
_log = get_logger(__name__)


def record_name(domain: str) -> str:
    return f"{RECORD_PREFIX}.{domain}"


def record_value(txt_token: str) -> str:
    return f"{VALUE_PREFIX}{txt_token}"


def new_txt_token() -> str:
    return secrets.token_urlsafe(24)


class Outcome(Enum):
    VERIFIED = "verified"
    NOT_FOUND = "not found"
    MISMATCH = "mismatch"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class DnsSettings:
    nameservers: tuple[tuple[str, int], ...]
    timeout: float


async def check_txt(settings: DnsSettings, domain: str, txt_token: str) -> Outcome:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [host for host, _ in settings.nameservers]
    ports = {port for _, port in settings.nameservers}
    if len(ports) == 1:
        resolver.port = ports.pop()
    else:  # per-server ports
        resolver.nameserver_ports = dict(settings.nameservers)
    resolver.timeout = settings.timeout
    resolver.lifetime = settings.timeout
    try:
        answer = await resolver.resolve(record_name(domain), "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return Outcome.NOT_FOUND
    except (dns.resolver.NoNameservers, dns.resolver.LifetimeTimeout, dns.exception.DNSException):
        _log.warning("domain_dns_unavailable", domain=domain)
        return Outcome.UNAVAILABLE
    expected = record_value(txt_token).encode()
    for record in answer:
        if b"".join(getattr(record, "strings", ())) == expected:
            return Outcome.VERIFIED
    return Outcome.MISMATCH
