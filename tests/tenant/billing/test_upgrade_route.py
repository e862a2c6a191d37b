"""``POST /tenants/{id}/upgrade`` (in-process tenant app, real workers, the local provider which
confirms a payment at once): the route checks ``billing.manage`` first, starts ``tenant_upgrade``
as the caller and answers 202; the quotas change once the run has the payment."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.tenant.service import SPEC
from storage.db import transaction
from storage.tenants.repository import MembershipRepository, TenantRepository
from tests.auth.users import create_user
from tests.tenant.http.tenant_api import RecordingMailer, TenantApi
from workflows.tenant.plans import Plan, terms

pytestmark = pytest.mark.timeout(120)


async def test_an_owner_upgrades_a_member_cannot_and_bad_plans_are_refused(
    temporal: Client,
    tenant_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
) -> None:
    owner, member = await create_user(auth_runtime), await create_user(auth_runtime)
    slug = f"t-{uuid.uuid4().hex[:10]}"
    async with tenant_stack() as stack:
        local = tenant_resources.settings.model_copy(update={"task_queue_prefix": stack.prefix})
        resources = dataclasses.replace(tenant_resources, settings=local)
        api = TenantApi(SPEC.build_app(resources), auth_runtime, RecordingMailer(), resources)

        async with api.client(owner.id, None) as http:
            created = await http.post("/tenants", json={"slug": slug, "name": "Acme"})
        assert created.status_code == 202, created.text
        created_run = temporal.get_workflow_handle(created.json()["workflow_id"])
        tenant_id = uuid.UUID((await created_run.result())["tenant_id"])
        async with transaction(resources.database, tenant_id) as db:
            await MembershipRepository(db, tenant_id).add_member(member.id, "member")

        async with api.client(member.id, tenant_id) as http:
            refused = await http.post(f"/tenants/{tenant_id}/upgrade", json={"plan": "team"})
        async with api.client(owner.id, tenant_id) as http:
            same = await http.post(f"/tenants/{tenant_id}/upgrade", json={"plan": "free"})
            unknown = await http.post(f"/tenants/{tenant_id}/upgrade", json={"plan": "gold"})
            huge = await http.post(
                f"/tenants/{tenant_id}/upgrade",
                json={"plan": "team", "payment_method_id": "x" * 10**6},
            )
            extra = await http.post(
                f"/tenants/{tenant_id}/upgrade", json={"plan": "team", "seat_quota": 10**9}
            )
            other = await http.post(f"/tenants/{uuid.uuid4()}/upgrade", json={"plan": "team"})
            started = await http.post(f"/tenants/{tenant_id}/upgrade", json={"plan": "team"})
            assert started.status_code == 202, started.text
            result = await temporal.get_workflow_handle(started.json()["workflow_id"]).result()

    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert same.status_code == 422 and "already" in same.json()["detail"]
    assert unknown.status_code == 422 and huge.status_code == 422 and extra.status_code == 422
    assert other.status_code == 403  # another tenant than the token's: refused before any read
    assert result["plan"] == "team" and result["previous_plan"] == "free"
    async with transaction(tenant_resources.database, tenant_id) as db:
        tenant = await TenantRepository(db).get(tenant_id)
    team = terms(Plan.TEAM)
    assert tenant is not None and tenant.plan == "team"
    assert (tenant.seat_quota, tenant.storage_quota_bytes) == (
        team.seat_quota,
        team.storage_quota_bytes,
    )
