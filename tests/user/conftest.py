"""Fixtures of the user service tests (helpers: ``tests/user/user_api.py``)."""

from __future__ import annotations

import pytest

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.user.service import SPEC
from tests.user.user_api import UserApi


@pytest.fixture(scope="session")
async def user_api(user_resources: Resources, auth_runtime: AuthRuntime) -> UserApi:
    return UserApi(SPEC.build_app(user_resources), auth_runtime, user_resources)
