"""MFA set-up without a worker on the auth queue answers 503, never 500 or a hang."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from services.auth.mfa import setup
from services.auth.service import create_auth_app
from services.common.resources import Resources
from tests.auth.users import AuthUser, login
from tests.in_process import in_process_client


async def test_setup_without_a_worker_is_503(
    auth_resources: Resources, user: AuthUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(setup, "ANSWER_SECONDS", 2.0)
    lonely = dataclasses.replace(
        auth_resources,
        settings=auth_resources.settings.model_copy(
            update={"task_queue_prefix": f"nobody{uuid.uuid4().hex[:8]}"}
        ),
    )
    app = create_auth_app(lonely)
    async with in_process_client(app, base_url="http://auth", client_ip="10.9.9.9") as client:
        tokens = await login(client, user)
        response = await client.post(
            "/auth/mfa/setup", headers={"authorization": f"Bearer {tokens['access_token']}"}
        )

    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
