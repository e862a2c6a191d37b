"""Fixtures of the user GraphQL tests: the gateway's resources for an in-process gateway over the
stack's services (the call counting of ``tests/gateway/efficiency``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.common.resources import Resources
from services.common.settings import ServiceName, Settings


@pytest.fixture(scope="module")
async def gateway_resources(settings: Settings) -> AsyncIterator[Resources]:
    resources = await Resources.open(settings, ServiceName.gateway)
    yield resources
    await resources.close()
