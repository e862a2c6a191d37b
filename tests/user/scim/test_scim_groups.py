"""Groups created and deleted by an identity provider over SCIM, driven with the ``scim2-client``
library on the real stack (every worker in process): ``POST /Groups`` is a custom role made by
``role_change`` CREATE (the tenant's row, the user service's record with its ``externalId``),
its members given it by ``membership_change``; ``DELETE /Groups/{id}`` moves its members back to
``member`` and deletes the role (``role_change`` DELETE). Each effect is read from the owning
service's tables; another tenant's token sees and deletes none of it; a built-in role stays.
A CREATE whose record cannot be written deletes its role again (the saga)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from scim2_client.engines.asgi import ASGISCIMClient
from scim2_models import (
    Error,
    Group,
    GroupMember,
    ListResponse,
    PatchOp,
    PatchOperation,
    ScimProvider,
    SearchRequest,
    User,
)
from temporalio.client import WorkflowFailureError

from services.common.security_context import SecurityContext, acting_as
from storage.db import transaction
from storage.tenants.repository import RoleRepository
from storage.users.scim_records import ScimGroupRecords
from tests.auth.mail_flows import record_history
from tests.user.scim.scim_api import assert_scim_error, scim_client
from workflows.tenant.permissions import built_in_permissions
from workflows.tenant.role_change import (
    RoleChangeInput,
    RoleChangeWorkflow,
    role_change_workflow_id,
)

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(300)]

GROUPS = "/scim/v2/Groups"


def idp_for(world: Any, token: str) -> ASGISCIMClient:
    return ASGISCIMClient(
        world.api.app,
        base_url="http://user/scim/v2",
        headers={"Authorization": f"Bearer {token}"},
        provider=ScimProvider(models=[User, Group]),
    )


async def _role(world: Any, tenant_id: uuid.UUID, name: str) -> Any:
    async with transaction(world.resources["tenant"].database, tenant_id) as db:
        row = await RoleRepository(db, tenant_id).by_name(name)
    return None if row is None else sorted(row.permissions)


async def _record(world: Any, tenant_id: uuid.UUID) -> dict[str, str | None]:
    async with transaction(world.resources["user"].database, tenant_id) as db:
        rows = await ScimGroupRecords(db, tenant_id).all()
    return {row.role: row.external_id for row in rows}


def _filter(text: str) -> SearchRequest:
    return SearchRequest(filter=text)


async def test_an_identity_provider_creates_and_deletes_groups(scim_world: Any) -> None:
    async with scim_world() as world:
        tenant = await world.tenant(members=2)
        other = await world.tenant(members=0)
        alice, bob = tenant.members
        tid = tenant.tenant_id
        async with scim_client(world.api, None):  # the app started, as the other tests have it
            idp, foreign = idp_for(world, tenant.token), idp_for(world, other.token)
            await idp.discover()
            await foreign.discover()

            created: Any = await idp.create(
                Group(
                    display_name="engineering",
                    external_id="okta-grp-1",
                    members=[GroupMember(value=str(alice.id))],
                )
            )
            alice_in = await world.trace(tid, alice.id)
            role_made = await _role(world, tid, "engineering")
            empty: Any = await idp.create(Group(display_name="design"))
            design = await idp.query(Group, query_parameters=_filter('displayName eq "design"'))
            by_external = await idp.query(
                Group, query_parameters=_filter('externalId eq "okta-grp-1"')
            )
            again: Any = await idp.create(
                Group(display_name="engineering"), raise_scim_errors=False
            )
            built_in: Any = await idp.create(Group(display_name="admin"), raise_scim_errors=False)
            bad_name: Any = await idp.create(
                Group(display_name="Not A Role!"), raise_scim_errors=False
            )
            stranger: Any = await idp.create(
                Group(display_name="ops", members=[GroupMember(value=str(uuid.uuid4()))]),
                raise_scim_errors=False,
            )
            ops_after_stranger = await _role(world, tid, "ops")
            # Bob joins by PATCH; the externalId changes.
            patched: Any = await idp.modify(
                Group,
                created.id,
                PatchOp[Group](
                    operations=[
                        PatchOperation(
                            op=PatchOperation.Op("add"),
                            path="members",
                            value=[GroupMember(value=str(bob.id))],
                        ),
                        PatchOperation(
                            op=PatchOperation.Op("replace"), path="externalId", value="okta-grp-2"
                        ),
                    ]
                ),
            )

            # Another tenant's token: none of it is visible or deletable; its own externalId
            # space is its own.
            foreign_groups: Any = await foreign.query(Group)
            foreign_by_external: Any = await foreign.query(
                Group, query_parameters=_filter('externalId eq "okta-grp-2"')
            )
            foreign_get: Any = await foreign.query(Group, created.id, raise_scim_errors=False)
            foreign_delete: Any = await foreign.delete(Group, created.id, raise_scim_errors=False)
            foreign_patch = None
            async with scim_client(world.api, other.token) as raw:
                foreign_patch = await raw.patch(
                    f"{GROUPS}/{created.id}",
                    json={
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "externalId", "value": "x"}],
                    },
                )
            foreign_own: Any = await foreign.create(
                Group(display_name="engineering", external_id="okta-grp-2")
            )

            # Deleting: a built-in role stays; a custom one goes, its members back to member.
            groups: Any = await idp.query(Group)
            admin = next(g for g in groups.resources if g.display_name == "admin")
            admin_delete: Any = await idp.delete(Group, admin.id, raise_scim_errors=False)
            await idp.delete(Group, created.id)
            gone: Any = await idp.query(Group, created.id, raise_scim_errors=False)
            alice_out = await world.trace(tid, alice.id)
            bob_out = await world.trace(tid, bob.id)
            role_after = await _role(world, tid, "engineering")
            records_after = await _record(world, tid)
            foreign_kept = await _role(world, other.tenant_id, "engineering")
            await idp.delete(Group, empty.id)

        temporal = world.temporal
        await record_history(
            temporal.get_workflow_handle(role_change_workflow_id("create", str(tid), "design")),
            "role_change",
        )
        await record_history(
            temporal.get_workflow_handle(role_change_workflow_id("delete", str(tid), "design")),
            "role_change.delete",
        )

    assert isinstance(created, Group) and created.display_name == "engineering"
    assert created.external_id == "okta-grp-1"
    assert {m.value for m in created.members or []} == {str(alice.id)}
    assert role_made == sorted(p.value for p in built_in_permissions("member") or ())
    assert alice_in["membership"] == ("engineering", "active")
    assert alice_in["claims"] == ["engineering"] and alice_in["entry"] == ("engineering", "active")
    assert isinstance(empty, Group) and not empty.members
    assert isinstance(design, ListResponse) and [g.id for g in design.resources or []] == [empty.id]
    assert isinstance(by_external, ListResponse)
    assert [g.id for g in by_external.resources or []] == [created.id]
    assert isinstance(again, Error) and again.status == 409 and again.scim_type == "uniqueness"
    assert isinstance(built_in, Error) and built_in.status == 409
    assert isinstance(bad_name, Error) and bad_name.status == 400
    assert bad_name.scim_type == "invalidValue"
    assert isinstance(stranger, Error) and stranger.status == 400
    assert ops_after_stranger is None, "a refused Group leaves no role behind"
    assert isinstance(patched, Group) and patched.external_id == "okta-grp-2"
    assert {m.value for m in patched.members or []} == {str(alice.id), str(bob.id)}

    assert created.id not in {g.id for g in foreign_groups.resources or []}
    assert foreign_by_external.total_results == 0
    assert isinstance(foreign_get, Error) and foreign_get.status == 404
    assert isinstance(foreign_delete, Error) and foreign_delete.status == 404
    assert_scim_error(foreign_patch, 404)
    assert isinstance(foreign_own, Group) and foreign_own.external_id == "okta-grp-2"
    assert foreign_own.id != created.id

    assert isinstance(admin_delete, Error) and admin_delete.status == 400
    assert admin_delete.scim_type == "mutability"
    assert isinstance(gone, Error) and gone.status == 404
    assert alice_out["membership"] == ("member", "active") and alice_out["claims"] == ["member"]
    assert bob_out["membership"] == ("member", "active")
    assert role_after is None and "engineering" not in records_after
    assert foreign_kept is not None, "the other tenant's role of that name is its own"


async def test_a_create_whose_record_fails_deletes_its_role(scim_world: Any) -> None:
    """The user service cannot record the Group (its externalId was taken meanwhile, past the
    route's check): the run deletes the role it created and fails."""
    async with scim_world() as world:
        tenant = await world.tenant(members=0)
        tid = tenant.tenant_id
        async with transaction(world.resources["user"].database, tid) as db:
            await ScimGroupRecords(db, tid).save("admin", "ext-taken")
        context = SecurityContext.for_user(
            str(tenant.owner.id), tenant_id=str(tid), roles=["owner"]
        )
        with acting_as(context):
            handle = await world.temporal.start_workflow(
                RoleChangeWorkflow.run,
                RoleChangeInput(str(tid), "create", str(tenant.owner.id), "racing", "ext-taken"),
                id=role_change_workflow_id("create", str(tid), "racing"),
                task_queue=world.stack.queue,
            )
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        progress = await handle.query("progress")
        role = await _role(world, tid, "racing")
        records = await _record(world, tid)
        await record_history(handle, "role_change.compensated")
    assert role is None, "the role the run created was deleted again"
    assert records == {"admin": "ext-taken"}
    assert progress["state"] == "failed"
