"""Fixtures of the tenant HTTP tests (helpers: ``tenant_api``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.devstack.ports import free_port
from services.tenant.invitations.mails import get_mailer
from services.tenant.service import SPEC
from tests.tenant.http.tenant_api import LocalDns, RecordingMailer, TenantApi, start_dns


@pytest.fixture(scope="session")
def local_dns() -> Iterator[LocalDns]:
    """A real DNS server (dnslib, UDP on a free port) answering the TXT records tests set."""
    yield from start_dns()


@pytest.fixture(scope="session")
def dead_nameserver() -> str:
    """A UDP port nothing listens on."""
    return f"127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
async def tenant_api(
    tenant_resources: Resources, auth_runtime: AuthRuntime, local_dns: LocalDns
) -> TenantApi:
    local = tenant_resources.settings.model_copy(
        update={
            "tenant_dns_nameservers": local_dns.nameservers,
            "tenant_dns_timeout_seconds": 1.0,
        }
    )
    resources = dataclasses.replace(tenant_resources, settings=local)
    app = SPEC.build_app(resources)
    mailer = RecordingMailer()
    app.dependency_overrides[get_mailer] = lambda: mailer
    return TenantApi(app, auth_runtime, mailer, resources)
