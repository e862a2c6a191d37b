"""The tenant journey through GraphQL on the real stack (gateway and five services as
processes): two people sign up and verify their address by mail, create tenants (watching the
provisioning over ``workflowProgress`` to COMPLETED), one invites the other, who accepts by the
mailed link; they switch between tenants (tokens carry ``tid`` and ``perms``), a viewer is
refused an admin mutation with FORBIDDEN, the members connection paginates, the owner changes
the member's role, suspends the tenant (its tokens and switches stop) and resumes it.

The plan upgrade is its own test below, paid against the stack's billing emulator (localstripe,
``stack_billing`` in tests/conftest.py)."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any
from urllib.parse import unquote

import jwt

from services.common.resources import Resources
from services.tenant.billing.stripe_provider import StripeBillingProvider
from storage.db import transaction
from storage.tenants.models import Tenant
from tests.auth.mail_flows import outbox_mails, plain_text
from tests.graphql_client import gql, subscribe
from tests.support import Infra, Stack
from tests.tenant.graphql.tenant_graphql import MEMBERS, SWITCH, code_of
from workflows.tenant.plans import Plan, terms

TEAM = terms(Plan.TEAM)

PASSWORD = "a long enough password"
SIGN_UP = """mutation($input: SignUpInput!) { signUp(input: $input) { id accessToken } }"""
VERIFY = "mutation($token: String!) { verifyEmail(token: $token) }"
LOGIN = """mutation($input: LoginInput!) {
  login(input: $input) { tokens { accessToken refreshToken sessionId } }
}"""
PROGRESS = """subscription($id: ID!, $token: String) {
  workflowProgress(id: $id, accessToken: $token) {
    id status error result progress { step total percent state }
  }
}"""
CREATE = """mutation($slug: String!, $name: String!) {
  createTenant(input: {slug: $slug, name: $name}) { id type status accessToken }
}"""
INVITE = """mutation($t: ID!, $email: String!, $role: String!) {
  inviteMember(input: {tenantId: $t, email: $email, role: $role}) { id email role status }
}"""
ACCEPT = "mutation($token: String!) { acceptInvitation(token: $token) { id accessToken } }"
CHANGE_ROLE = """mutation($t: ID!, $u: ID!, $role: String!) {
  changeMemberRole(tenantId: $t, userId: $u, role: $role) { id accessToken }
}"""
SUSPEND = "mutation($t: ID!) { suspendTenant(tenantId: $t) { id accessToken } }"
RESUME = "mutation($t: ID!) { resumeTenant(tenantId: $t) { id accessToken } }"
UPGRADE = """mutation($t: ID!, $plan: String!) {
  upgradeTenant(tenantId: $t, plan: $plan) { id accessToken }
}"""
TENANTS = "{ tenants { id slug status plan myRole seatQuota } }"
ME = "{ me { userId tenantId roles } }"


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})  # type: ignore[no-any-return]


async def mailed_token(infra: Infra, address: str, path: str, timeout: float = 30) -> str:
    """The token of the newest ``<path>?token=`` link mailed to ``address``."""
    pattern = re.compile(re.escape(path) + r"\?token=([A-Za-z0-9_\-%.~]+)")
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        for mail in reversed(outbox_mails(infra.settings(), address)):
            if match := pattern.search(plain_text(mail)):
                return unquote(match.group(1))
        assert asyncio.get_running_loop().time() < deadline, f"no {path} mail for {address}"
        await asyncio.sleep(0.1)


async def finished(stack: Stack, run: dict[str, Any]) -> list[dict[str, Any]]:
    """Every progress event of a started run, to its end (the run's own access token)."""
    updates = []

    async def follow() -> None:
        async for update in subscribe(
            stack.graphql_ws, PROGRESS, {"id": run["id"], "token": run["accessToken"]}
        ):
            assert not update.get("errors"), update
            updates.append(update["data"]["workflowProgress"])

    await asyncio.wait_for(follow(), 90)
    return updates


async def completed(stack: Stack, body: dict[str, Any], field: str) -> list[dict[str, Any]]:
    assert not body.get("errors"), body
    updates = await finished(stack, body["data"][field])
    assert updates and updates[-1]["status"] == "COMPLETED", updates
    assert updates[-1]["progress"]["state"] == "completed", updates
    percents = [u["progress"]["percent"] for u in updates if u["progress"]]
    assert percents == sorted(percents), percents
    return updates


class Person:
    def __init__(self, name: str) -> None:
        self.email = f"{name}-{uuid.uuid4().hex[:10]}@example.com"
        self.token = ""
        self.refresh = ""
        self.user_id = ""

    async def sign_up(self, stack: Stack, infra: Infra) -> None:
        started = await gql(
            stack.graphql,
            SIGN_UP,
            {"input": {"email": self.email, "password": PASSWORD, "displayName": "Journey"}},
        )
        assert not started.get("errors"), started
        token = await mailed_token(infra, self.email, "/verify-email")
        assert await gql(stack.graphql, VERIFY, {"token": token}) == {"data": {"verifyEmail": True}}
        await self.login(stack)

    async def login(self, stack: Stack, tenant_id: str | None = None) -> dict[str, Any]:
        variables = {"input": {"email": self.email, "password": PASSWORD, "tenantId": tenant_id}}
        body = await gql(stack.graphql, LOGIN, variables)
        if not body.get("errors"):
            tokens = body["data"]["login"]["tokens"]
            self.token, self.refresh = tokens["accessToken"], tokens["refreshToken"]
            self.user_id = claims(self.token)["sub"]
        return body

    async def ask(self, stack: Stack, query: str, **variables: Any) -> dict[str, Any]:
        return await gql(stack.graphql, query, variables, token=self.token)

    async def switch(self, stack: Stack, tenant_id: str) -> dict[str, Any]:
        body = await self.ask(stack, SWITCH, id=tenant_id)
        if not body.get("errors"):
            self.token = body["data"]["switchTenant"]["accessToken"]
        return body

    async def create_tenant(self, stack: Stack, slug: str) -> str:
        started = await self.ask(stack, CREATE, slug=slug, name=f"Journey {slug}")
        assert not started.get("errors"), started
        run = started["data"]["createTenant"]
        assert run["type"] == "tenant_provisioning" and run["id"] == f"tenant-provisioning-{slug}"
        await completed(stack, started, "createTenant")
        listed = {t["slug"]: t for t in (await self.ask(stack, TENANTS))["data"]["tenants"]}
        assert listed[slug]["status"] == "active" and listed[slug]["myRole"] == "owner", listed
        return str(listed[slug]["id"])


async def test_tenant_journey(stack: Stack, infra: Infra) -> None:
    alice, bob = Person("alice"), Person("bob")
    await asyncio.gather(alice.sign_up(stack, infra), bob.sign_up(stack, infra))
    assert claims(alice.token).get("tid") is None

    # Each creates a tenant, watching its provisioning to COMPLETED.
    suffix = uuid.uuid4().hex[:8]
    acme, bobs = await asyncio.gather(
        alice.create_tenant(stack, f"acme-{suffix}"), bob.create_tenant(stack, f"bob-{suffix}")
    )
    assert (await alice.switch(stack, acme))["data"]["switchTenant"]["roles"] == ["owner"]
    token = claims(alice.token)
    assert token["tid"] == acme and "members.invite" in token["perms"]

    # Alice invites Bob as a viewer; Bob accepts with the mailed link.
    invited = await alice.ask(stack, INVITE, t=acme, email=bob.email, role="viewer")
    assert not invited.get("errors"), invited
    assert invited["data"]["inviteMember"]["status"] == "pending"
    link = await mailed_token(infra, bob.email, "/invitations/accept")
    await completed(stack, await bob.ask(stack, ACCEPT, token=link), "acceptInvitation")

    # The tenant is listed for both, each with their role.
    for person, expected in ((alice, {acme: "owner"}), (bob, {acme: "viewer", bobs: "owner"})):
        roles = {
            t["id"]: t["myRole"] for t in (await person.ask(stack, TENANTS))["data"]["tenants"]
        }
        assert roles == expected, (person.email, roles)

    # Bob switches into Acme and back: the tokens carry each tenant's tid, roles and perms.
    assert (await bob.login(stack, bobs)).get("errors") is None
    assert claims(bob.token)["tid"] == bobs and "billing.manage" in claims(bob.token)["perms"]
    into_acme = await bob.switch(stack, acme)
    assert not into_acme.get("errors"), into_acme
    viewer = claims(bob.token)
    assert viewer["tid"] == acme and viewer["roles"] == ["viewer"]
    assert "files.read" in viewer["perms"] and "members.manage" not in viewer["perms"]
    assert (await bob.ask(stack, ME))["data"]["me"] == {
        "userId": bob.user_id,
        "tenantId": acme,
        "roles": ["viewer"],
    }

    # A viewer is refused an admin mutation; the members connection pages.
    refused = await bob.ask(stack, CHANGE_ROLE, t=acme, u=alice.user_id, role="viewer")
    assert refused["data"] is None and code_of(refused) == "FORBIDDEN", refused
    first = (await bob.ask(stack, MEMBERS, id=acme, first=1))["data"]["members"]
    assert len(first["edges"]) == 1 and first["pageInfo"]["hasNextPage"] is True
    rest = await bob.ask(stack, MEMBERS, id=acme, first=5, after=first["pageInfo"]["endCursor"])
    page_two = rest["data"]["members"]
    assert page_two["pageInfo"]["hasNextPage"] is False
    members = {e["node"]["userId"]: e["node"]["role"] for e in first["edges"] + page_two["edges"]}
    assert members == {alice.user_id: "owner", bob.user_id: "viewer"}

    # Alice makes Bob an admin: his next token in Acme says so.
    await completed(
        stack,
        await alice.ask(stack, CHANGE_ROLE, t=acme, u=bob.user_id, role="admin"),
        "changeMemberRole",
    )
    assert not (await bob.switch(stack, bobs)).get("errors")
    assert not (await bob.switch(stack, acme)).get("errors")
    admin = claims(bob.token)
    assert admin["roles"] == ["admin"] and "members.manage" in admin["perms"]
    assert "billing.manage" not in admin["perms"]

    # Alice suspends Acme: its sessions end, nobody switches or logs into it.
    bob_in_acme = bob.token
    await completed(stack, await alice.ask(stack, SUSPEND, t=acme), "suspendTenant")
    assert code_of(await gql(stack.graphql, ME, token=bob_in_acme)) == "UNAUTHENTICATED"
    assert code_of(await bob.login(stack, acme)) is not None
    await bob.login(stack, bobs)
    assert code_of(await bob.switch(stack, acme)) == "FORBIDDEN"
    await alice.login(stack)  # her session in Acme ended too: a tenant-less sign-in
    assert {t["id"]: t["status"] for t in (await alice.ask(stack, TENANTS))["data"]["tenants"]}.get(
        acme
    ) in (None, "suspended")

    # She resumes it (checked against her own membership row): both are back in.
    await completed(stack, await alice.ask(stack, RESUME, t=acme), "resumeTenant")
    assert not (await alice.switch(stack, acme)).get("errors")
    assert claims(alice.token)["tid"] == acme
    assert not (await bob.switch(stack, acme)).get("errors")
    assert claims(bob.token)["roles"] == ["admin"]
    statuses = {t["id"]: t["status"] for t in (await bob.ask(stack, TENANTS))["data"]["tenants"]}
    assert statuses[acme] == "active"


async def test_upgrade_through_graphql_against_the_billing_emulator(
    stack: Stack, infra: Infra, tenant_resources: Resources
) -> None:
    """The stack's tenant service bills through localstripe (``stack_billing``): provisioning
    made the tenant's Stripe customer; the card is attached at the emulator, as Stripe.js would
    on the client; the paid change gives the plan's quotas."""
    owner = Person("owner")
    await owner.sign_up(stack, infra)
    tenant = await owner.create_tenant(stack, f"up-{uuid.uuid4().hex[:8]}")
    await owner.switch(stack, tenant)
    async with transaction(tenant_resources.database, uuid.UUID(tenant)) as db:
        row = await db.get(Tenant, uuid.UUID(tenant))
        assert row is not None
        customer = row.billing_customer_id
    assert customer and customer.startswith("cus_"), customer  # a Stripe customer, not local
    provider = StripeBillingProvider(
        stack.env["ADX_STRIPE_API_KEY"],
        stack.env["ADX_STRIPE_WEBHOOK_SECRET"],
        api_base=stack.env["ADX_STRIPE_API_BASE"],
    )
    try:
        await provider.attach_payment_method(customer, "pm_card_visa", f"journey:{tenant}")
    finally:
        await provider.aclose()

    updates = await completed(
        stack, await owner.ask(stack, UPGRADE, t=tenant, plan="team"), "upgradeTenant"
    )
    listed = {t["id"]: t for t in (await owner.ask(stack, TENANTS))["data"]["tenants"]}

    result = updates[-1]["result"]
    assert result["plan"] == "team" and result["previous_plan"] == "free", result
    assert result["amount_due"] == TEAM.monthly_amount and str(result["invoice_id"]).startswith(
        "in_"
    )
    assert listed[tenant]["plan"] == "team"
    assert listed[tenant]["seatQuota"] == TEAM.seat_quota
