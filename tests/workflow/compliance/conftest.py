"""Fixtures of the GDPR tests: every service's workers on a fresh task-queue prefix
(``compliance_stack``) and the workflow app in-process on the same prefix, with short link
lifetimes and grace periods so the durable timers run in seconds."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest

from services.common.resources import Resources
from services.common.settings import ServiceName, Settings
from services.workflow.service import create_workflow_app
from tests.workers import running_workers
from tests.workflow.compliance.people import ComplianceStack
from tests.workflow.runs.runs_api import RunsApi


@pytest.fixture(scope="session")
async def workflow_resources(
    resources_for: Callable[[ServiceName], Awaitable[Resources]],
) -> Resources:
    return await resources_for(ServiceName.workflow)


@pytest.fixture
def compliance_stack(
    settings: Settings,
    auth_resources: Resources,
    tenant_resources: Resources,
    user_resources: Resources,
    file_resources: Resources,
    workflow_resources: Resources,
    runs_api: RunsApi,
) -> Callable[..., Any]:
    """``async with compliance_stack(grace_seconds=1) as stack``: the workers and the app."""
    from services.auth.service import SPEC as AUTH
    from services.file.service import SPEC as FILE
    from services.tenant.service import SPEC as TENANT
    from services.user.service import SPEC as USER
    from services.workflow.service import SPEC as WORKFLOW

    @asynccontextmanager
    async def run(
        replace: Mapping[str, Callable[..., Any]] | None = None,
        grace_seconds: int = 1,
        link_seconds: int = 3600,
        decision_seconds: int = 3600,
    ) -> AsyncIterator[ComplianceStack]:
        services = (
            (AUTH, auth_resources),
            (TENANT, tenant_resources),
            (FILE, file_resources),
            (USER, user_resources),
            (WORKFLOW, workflow_resources),
        )
        prefix = f"gd{uuid.uuid4().hex[:8]}"
        local_settings = runs_api.resources.settings.model_copy(
            update={
                "task_queue_prefix": prefix,
                "compliance_erasure_grace_seconds": grace_seconds,
                "compliance_export_link_seconds": link_seconds,
                "compliance_decision_seconds": decision_seconds,
            }
        )
        resources = dataclasses.replace(runs_api.resources, settings=local_settings)
        api = dataclasses.replace(runs_api, app=create_workflow_app(resources), resources=resources)
        async with running_workers(settings, services, prefix, replace) as local:
            yield ComplianceStack(
                api=api,
                tenant=local.task_queue(ServiceName.tenant),
                workflow=local.task_queue(ServiceName.workflow),
                auth=auth_resources,
                tenants=tenant_resources,
                users=user_resources,
                files=file_resources,
            )

    return run
