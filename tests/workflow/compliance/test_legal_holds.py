"""``PUT``/``DELETE /auth/legal-holds/{user_id}`` on the auth service (in-process): an operator
sets and releases a hold (stored, audited); anyone else, a tenant owner included, is refused
and nothing is stored; bad input is a 4xx problem+json."""

from __future__ import annotations

import uuid

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from storage.auth import compliance
from storage.db import transaction
from tests.auth.mail_flows import with_settings
from tests.auth.users import create_user, login
from tests.in_process import in_process_auth_api


async def _held(resources: Resources, user_id: uuid.UUID) -> str | None:
    async with transaction(resources.database) as db:
        return (await compliance.subject(db, user_id))[1]


async def test_only_operators_set_and_release_holds(
    auth_runtime: AuthRuntime, auth_resources: Resources
) -> None:
    operator = await create_user(auth_runtime)
    someone = await create_user(auth_runtime, tenant_roles={uuid.uuid4(): ["owner"]})
    subject = await create_user(auth_runtime)
    resources = with_settings(auth_resources, workflow_operator_user_ids=str(operator.id))
    path = f"/auth/legal-holds/{subject.id}"
    async with in_process_auth_api(resources) as client:
        tokens = await login(client, someone)
        client.headers["authorization"] = f"Bearer {tokens['access_token']}"
        refused = await client.put(path, json={"reason": "I say so"})
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert await _held(auth_resources, subject.id) is None

        tokens = await login(client, operator)
        client.headers["authorization"] = f"Bearer {tokens['access_token']}"
        for body in ({}, {"reason": ""}, {"reason": "x" * 1_000_000}, {"reason": "a", "x": 1}):
            bad = await client.put(path, json=body)
            assert 400 <= bad.status_code < 500, (str(body)[:40], bad.status_code)
        assert (
            await client.put("/auth/legal-holds/not-a-uuid", json={"reason": "r"})
        ).status_code == 422
        held = await client.put(path, json={"reason": "litigation"})
        assert held.json() == {"user_id": str(subject.id), "held": True}
        assert await _held(auth_resources, subject.id) == "litigation"
        released = await client.delete(path)
        assert released.json() == {"user_id": str(subject.id), "held": False}
        assert (await client.delete(path)).status_code == 404
    assert await _held(auth_resources, subject.id) is None
