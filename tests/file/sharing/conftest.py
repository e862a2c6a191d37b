"""Fixtures of the sharing tests: one file service and tenant worker for the session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import Settings
from tests.file.sharing.share_api import ShareStack, share_stack


@pytest.fixture(scope="session")
async def sharing(
    settings: Settings,
    file_resources: Resources,
    tenant_resources: Resources,
    auth_runtime: AuthRuntime,
) -> AsyncIterator[ShareStack]:
    async with share_stack(settings, file_resources, tenant_resources, auth_runtime) as stack:
        yield stack
