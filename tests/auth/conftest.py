"""Auth fixtures: the auth API in-process on the in-process workers' queues (``client``), and for
the modules that send mail over SMTP a real sink per module, auth workers that mail through it
and the auth API on their queues (helpers in tests/auth/mail_flows.py). The auth runtime, the
plain in-process auth API and a fresh verified user are in tests/conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from services.common.resources import Resources
from tests.auth.mail_flows import SmtpSink, auth_api, private_workers
from tests.in_process import in_process_auth_api


@pytest.fixture
async def client(
    auth_resources: Resources, in_process_workers: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The auth API in-process, starting workflows on the in-process workers' task queues."""
    async with in_process_auth_api(auth_resources, in_process_workers) as http:
        yield http


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


@pytest.fixture(scope="module")
async def smtp_resources(
    sink: SmtpSink, auth_resources: Resources, user_resources: Resources
) -> AsyncIterator[Resources]:
    """Auth resources on private workers whose mails go over SMTP to ``sink``."""
    async with private_workers(
        auth_resources,
        user_resources,
        mail_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
    ) as resources:
        yield resources


@pytest.fixture
async def api(smtp_resources: Resources) -> AsyncIterator[httpx.AsyncClient]:
    async with auth_api(smtp_resources) as client:
        yield client
