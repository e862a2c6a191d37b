"""An identity provider's journey, driven with the ``scim2-client`` library over the live SCIM
endpoint on the real stack (every worker in process): discover, create people (``POST /Users``:
``user_onboarding``), find and patch them, put one in a Group (a role: ``membership_change``
CHANGE_ROLE) and out again, deactivate one (``user_deactivation``: sign-in refused), delete
one (``membership_change`` REMOVE), and a retried create answered 409, not a second person.
Each effect is read from the owning service's tables."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from scim2_client.engines.asgi import ASGISCIMClient
from scim2_models import (
    Email,
    Error,
    Group,
    GroupMember,
    ListResponse,
    Name,
    PatchOp,
    PatchOperation,
    ScimProvider,
    SearchRequest,
    User,
)

from services.workflow.service import SPEC as WORKFLOW
from tests.user.scim.scim_api import scim_client
from workflows.onboarding.contracts import OnboardingWorkflow

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(300)]

ONBOARDING = any(
    getattr(w, "__temporal_workflow_definition").name == OnboardingWorkflow.USER_ONBOARDING
    for w in WORKFLOW.workflows
)


def op(kind: str, path: str | None, value: Any = None) -> PatchOperation[Any]:
    return PatchOperation(op=PatchOperation.Op(kind), path=path, value=value)


async def _login(auth_client: httpx.AsyncClient, email: str, password: str) -> int:
    answer = await auth_client.post("/auth/login", json={"email": email, "password": password})
    return answer.status_code


@pytest.mark.skipif(
    not ONBOARDING, reason="user_onboarding is not registered on the workflow queue"
)
async def test_an_identity_provider_provisions_and_deprovisions(
    scim_world: Any, auth_client: httpx.AsyncClient
) -> None:
    async with scim_world() as world:
        tenant = await world.tenant(members=1)
        joined = tenant.members[0]  # joined by invitation: has a password to sign in with
        async with scim_client(world.api, None):  # the app started, as the other tests have it
            idp = ASGISCIMClient(
                world.api.app,
                base_url="http://user/scim/v2",
                headers={"Authorization": f"Bearer {tenant.token}"},
                # Our models, not ones built from the discovered schemas (same attributes).
                provider=ScimProvider(models=[User, Group]),
            )
            await idp.discover()
            config = idp.provider.config
            assert config is not None and config.patch is not None and config.patch.supported

            # Create two people.
            people = []
            for given in ("Ada", "Alan"):
                address = f"{given.lower()}-{uuid.uuid4().hex[:8]}@example.com"
                created: Any = await idp.create(
                    User(
                        user_name=address,
                        name=Name(given_name=given, family_name="Tester"),
                        display_name=f"{given} Tester",
                        emails=[Email(value=address, type="work", primary=True)],
                        external_id=f"okta-{given}",
                    )
                )
                assert isinstance(created, User) and created.id and created.active is True
                people.append(created)
            ada, alan = people
            ada_id, alan_id = uuid.UUID(ada.id), uuid.UUID(alan.id)
            ada_trace = await world.trace(tenant.tenant_id, ada_id)

            # A retried create of the same userName: 409 uniqueness, no second person.
            again: Any = await idp.create(
                User(user_name=ada.user_name, emails=ada.emails), raise_scim_errors=False
            )
            found = await idp.query(
                User, query_parameters=SearchRequest(filter=f'userName eq "{ada.user_name}"')
            )

            # Patch: a name, then the Group "admin" gets Alan (his role), then loses him.
            renamed = await idp.modify(
                User, ada.id, PatchOp[User](operations=[op("replace", "name.givenName", "Augusta")])
            )
            groups = await idp.query(Group)
            assert isinstance(groups, ListResponse)
            admin = next(g for g in groups.resources or [] if g.display_name == "admin")
            promoted = await idp.modify(
                Group,
                admin.id,
                PatchOp[Group](operations=[op("add", "members", [GroupMember(value=alan.id)])]),
            )
            alan_admin = await world.trace(tenant.tenant_id, alan_id)
            demoted = await idp.modify(
                Group,
                admin.id,
                PatchOp[Group](operations=[op("remove", f'members[value eq "{alan.id}"]')]),
            )
            alan_member = await world.trace(tenant.tenant_id, alan_id)

            # Deactivate the member who can sign in: refused at login; then reactivate.
            assert await _login(auth_client, joined.email, joined.password) == 200
            off = await idp.modify(
                User, str(joined.id), PatchOp[User](operations=[op("replace", "active", False)])
            )
            login_off = await _login(auth_client, joined.email, joined.password)
            current: Any = await idp.query(User, str(joined.id))
            on = await idp.replace(current.model_copy(update={"active": True}))
            login_on = await _login(auth_client, joined.email, joined.password)

            # Delete Ada: she leaves the tenant.
            await idp.delete(User, ada.id)
            gone = await idp.query(User, ada.id, raise_scim_errors=False)
            ada_gone = await world.trace(tenant.tenant_id, ada_id)

    assert ada_trace["membership"] == ("member", "active") and ada_trace["claims"] == ["member"]
    assert ada_trace["entry"] == ("member", "active")
    assert ada_trace["profile"].given_name == "Ada"
    assert isinstance(again, Error) and again.status == 409 and again.scim_type == "uniqueness"
    assert isinstance(found, ListResponse) and found.total_results == 1
    assert isinstance(renamed, User) and renamed.name and renamed.name.given_name == "Augusta"
    assert isinstance(promoted, Group)
    assert alan.id in {m.value for m in promoted.members or []}
    assert alan_admin["membership"] == ("admin", "active") and alan_admin["claims"] == ["admin"]
    assert isinstance(demoted, Group)
    assert alan.id not in {m.value for m in demoted.members or []}
    assert alan_member["membership"] == ("member", "active")
    assert isinstance(off, User) and off.active is False and login_off == 401
    assert isinstance(on, User) and on.active is True and login_on == 200
    assert isinstance(gone, Error) and gone.status == 404
    assert ada_gone["membership"] is None and ada_gone["entry"] is None
    assert ada_gone["claims"] is None
