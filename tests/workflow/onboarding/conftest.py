"""Fixtures of the ``user_onboarding`` tests: the auth, tenant, user and workflow workers on a
fresh task-queue prefix (``onboarding_stack``), with stand-ins to fail a step on purpose."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest

from services.common.resources import Resources
from services.common.settings import ServiceName, Settings
from tests.auth.mail_flows import SmtpSink, with_settings
from tests.workers import running_workers
from tests.workflow.onboarding.stack import OnboardingStack


@pytest.fixture(scope="session")
async def workflow_resources(
    resources_for: Callable[[ServiceName], Awaitable[Resources]],
) -> Resources:
    return await resources_for(ServiceName.workflow)


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSink]:
    """A real SMTP server the stack's mails go to with ``onboarding_stack(smtp=...)``."""
    with SmtpSink() as running:
        yield running


@pytest.fixture
def onboarding_stack(
    settings: Settings,
    auth_resources: Resources,
    tenant_resources: Resources,
    user_resources: Resources,
    file_resources: Resources,
    workflow_resources: Resources,
) -> Callable[..., Any]:
    """``async with onboarding_stack(replace={...}, smtp=sink) as stack``: every worker the
    onboarding needs (tenant provisioning included, to make tenants) on its own prefix; with
    ``smtp`` the auth and user services mail over SMTP to that server instead of the outbox."""
    from services.auth.service import SPEC as AUTH
    from services.file.service import SPEC as FILE
    from services.tenant.service import SPEC as TENANT
    from services.user.service import SPEC as USER
    from services.workflow.service import SPEC as WORKFLOW

    @asynccontextmanager
    async def run(
        replace: Mapping[str, Callable[..., Any]] | None = None, smtp: SmtpSink | None = None
    ) -> AsyncIterator[OnboardingStack]:
        auth, user = auth_resources, user_resources
        if smtp is not None:
            mail = {"mail_backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": smtp.port}
            auth, user = with_settings(auth, **mail), with_settings(user, **mail)
        services = (
            (AUTH, auth),
            (TENANT, tenant_resources),
            (FILE, file_resources),
            (USER, user),
            (WORKFLOW, workflow_resources),
        )
        prefix = f"ob{uuid.uuid4().hex[:8]}"
        async with running_workers(settings, services, prefix, replace) as local:
            yield OnboardingStack(
                tenant=local.task_queue(ServiceName.tenant),
                workflow=local.task_queue(ServiceName.workflow),
            )

    return run
