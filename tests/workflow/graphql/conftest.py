"""The gateway over the in-process workflow app of ``runs_api`` (tests/workflow/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.common.resources import Resources
from tests.workflow.graphql.runs_graphql import RunsGraphql, runs_gateway
from tests.workflow.runs.runs_api import RunsApi


@pytest.fixture
async def graphql(
    gateway_resources: Resources, auth_resources: Resources, runs_api: RunsApi
) -> AsyncIterator[RunsGraphql]:
    async with runs_gateway(gateway_resources, auth_resources, runs_api) as client:
        yield client
