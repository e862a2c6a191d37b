"""Fixtures of the file tests: one clamd (Debian's, with the project's EICAR signature) and one
file service (app and worker scanning with it) for the session; ``unscanned_files`` runs a
second one with no scanner configured."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import Settings
from services.devstack.clamav import Clamd, start_clamd
from services.devstack.ports import free_port
from tests.file.file_api import FileApi, file_service


@pytest.fixture(scope="session")
async def clamd(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Clamd]:
    base = tmp_path_factory.mktemp("clamd")
    running = await asyncio.to_thread(start_clamd, base, free_port(), die_with_parent=True)
    yield running
    await asyncio.to_thread(running.process.stop)


@pytest.fixture(scope="session")
async def file_api(
    settings: Settings, file_resources: Resources, auth_runtime: AuthRuntime, clamd: Clamd
) -> AsyncIterator[FileApi]:
    async with file_service(settings, file_resources, auth_runtime, clamd.address) as api:
        yield api


@pytest.fixture
async def unscanned_files(
    settings: Settings, file_resources: Resources, auth_runtime: AuthRuntime
) -> AsyncIterator[FileApi]:
    async with file_service(settings, file_resources, auth_runtime, None) as api:
        yield api
