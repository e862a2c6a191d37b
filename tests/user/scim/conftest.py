"""Fixtures of the SCIM tests (helpers: ``scim_api.py``, ``scim_stack.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import ServiceName, Settings
from tests.user.scim.scim_stack import scim_world_factory


@pytest.fixture(scope="session")
async def workflow_resources(resources_for: Any) -> Resources:
    return await resources_for(ServiceName.workflow)


@pytest.fixture
def scim_world(
    settings: Settings,
    temporal: Client,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    file_resources: Resources,
    user_resources: Resources,
    workflow_resources: Resources,
) -> Callable[[], Any]:
    """``async with scim_world() as world``: every worker in process on a fresh prefix, the user
    app starting its workflows there (``tests/user/scim/scim_stack.py``)."""
    return scim_world_factory(
        settings,
        temporal,
        auth_runtime,
        {
            "auth": auth_resources,
            "tenant": tenant_resources,
            "file": file_resources,
            "user": user_resources,
            "workflow": workflow_resources,
        },
    )
