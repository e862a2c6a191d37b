"""Issue 6, finding 2 (account pre-hijacking) and finding 5 (the sign-up password in workflow
payloads), end to end over the auth API with the mails delivered over SMTP to a real sink.

Before the fix: the attacker signed up ``victim@`` with the attacker's password; the victim's own
sign-up joined that run (same id, same run access token, no new mail, the victim's password
dropped); the victim clicked the one mail and the account was verified with the attacker's
password. The rule now: every sign-up is its own run with its own link, and the run whose link
is redeemed first creates the account with *its* password hash and display name.

Which mail the victim clicks decides, and we document both:
- the victim's own mail (whatever order the sign-ups came in): the victim owns the account;
  the attacker's link then fails with 409 and only the mailbox (the victim) gets the notice;
- the attacker's mail (a confirmation the victim did not ask for, which says "if you did not
  sign up, ignore this mail"): that click *is* the mailbox owner accepting the attacker's
  sign-up, so the account has the attacker's password. The victim's own link then answers 409
  and the notice mail sends them to password reset, which proves the mailbox, replaces the
  password and ends every session: the attacker is out, the victim in.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import select
from temporalio.client import WorkflowHandle

from services.common.codec import data_converter, payloads_from_json
from services.common.resources import Resources
from storage.db import transaction
from storage.users.models import Profile
from tests.auth import mail_flows
from tests.auth.mail_flows import SmtpSink, link_token, plain_text, wait_for_outbox
from tests.graphql_client import gql
from tests.support import Infra, Stack
from workflows.auth.user_registration import RegistrationResult

# The SMTP sink, workers that mail through it, and the auth API on their queues.
sink, smtp_resources, api = mail_flows.sink, mail_flows.smtp_resources, mail_flows.api

ATTACKER_PASSWORD = "mallory's own long password"
VICTIM_PASSWORD = "the victim's own long password"
NOTICE = "Someone tried to sign up with your e-mail address"


def victim_address() -> str:
    return f"victim-{uuid.uuid4().hex[:12]}@example.com"


async def sign_up(api: httpx.AsyncClient, email: str, password: str, name: str) -> str:
    answer = await api.post(
        "/auth/register", json={"email": email, "password": password, "display_name": name}
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["workflow_id"])


def run(resources: Resources, workflow_id: str) -> WorkflowHandle[Any, RegistrationResult]:
    return resources.temporal.get_workflow_handle(workflow_id, result_type=RegistrationResult)


async def links_by_run(sink: SmtpSink, email: str, *workflow_ids: str) -> dict[str, str]:
    """The verification link each run mailed (a link token starts with its run's id)."""
    mails = await sink.wait_for(email, count=len(workflow_ids))
    tokens = [link_token(m.text, "/verify-email") for m in mails if "verify-email" in m.text]
    stem = {wid: wid.removeprefix("user-registration-").replace("-", "") for wid in workflow_ids}
    return {wid: next(t for t in tokens if t.startswith(stem[wid])) for wid in workflow_ids}


async def login(api: httpx.AsyncClient, email: str, password: str) -> int:
    answer = await api.post("/auth/login", json={"email": email, "password": password})
    return answer.status_code


async def display_names(resources: Resources, email: str) -> list[str]:
    async with transaction(resources.sessions) as db:
        return list(await db.scalars(select(Profile.display_name).where(Profile.email == email)))


def notices(sink: SmtpSink, email: str) -> int:
    return sum(m.message["Subject"] == NOTICE for m in sink.to(email))


async def test_the_victims_own_sign_up_wins_after_an_attackers(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources
) -> None:
    victim = victim_address()
    attackers = await sign_up(api, victim, ATTACKER_PASSWORD, "Mallory")
    victims = await sign_up(api, victim, VICTIM_PASSWORD, "Victim")
    assert attackers != victims, "the victim's sign-up joined the attacker's run"
    links = await links_by_run(sink, victim, attackers, victims)
    assert links[attackers] != links[victims]

    clicked = await api.post("/auth/verify-email", json={"token": links[victims]})

    assert clicked.status_code == 200 and clicked.json() == {"status": "verified"}
    assert (await run(smtp_resources, victims).result()).status == "verified"
    assert await login(api, victim, VICTIM_PASSWORD) == 200
    assert await login(api, victim, ATTACKER_PASSWORD) == 401
    assert await display_names(smtp_resources, victim) == ["Victim"]
    # The attacker's link (in the victim's mailbox) no longer creates anything.
    late = await api.post("/auth/verify-email", json={"token": links[attackers]})
    assert late.status_code == 409, late.text
    assert (await run(smtp_resources, attackers).result()).status == "address_taken"
    await sink.wait_for(victim, count=3)
    assert notices(sink, victim) == 1
    assert await login(api, victim, VICTIM_PASSWORD) == 200


async def test_the_victims_own_sign_up_wins_before_an_attackers(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources
) -> None:
    victim = victim_address()
    victims = await sign_up(api, victim, VICTIM_PASSWORD, "Victim")
    attackers = await sign_up(api, victim, ATTACKER_PASSWORD, "Mallory")
    assert attackers != victims
    links = await links_by_run(sink, victim, victims, attackers)

    clicked = await api.post("/auth/verify-email", json={"token": links[victims]})

    assert clicked.status_code == 200
    assert await login(api, victim, VICTIM_PASSWORD) == 200
    assert await login(api, victim, ATTACKER_PASSWORD) == 401
    assert await display_names(smtp_resources, victim) == ["Victim"]
    assert (
        await api.post("/auth/verify-email", json={"token": links[attackers]})
    ).status_code == 409
    assert (await run(smtp_resources, attackers).result()).status == "address_taken"


async def test_clicking_the_attackers_mail_is_undone_by_the_reset_the_notice_offers(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources
) -> None:
    victim = victim_address()
    attackers = await sign_up(api, victim, ATTACKER_PASSWORD, "Mallory")
    victims = await sign_up(api, victim, VICTIM_PASSWORD, "Victim")
    links = await links_by_run(sink, victim, attackers, victims)

    # The victim clicks the unsolicited confirmation: they accepted the attacker's sign-up.
    wrong = await api.post("/auth/verify-email", json={"token": links[attackers]})
    assert wrong.status_code == 200
    assert await login(api, victim, ATTACKER_PASSWORD) == 200
    # Their own link then says the address is taken, and the notice points to the reset.
    own = await api.post("/auth/verify-email", json={"token": links[victims]})
    assert own.status_code == 409 and "reset your password" in own.json()["detail"]
    assert (await run(smtp_resources, victims).result()).status == "address_taken"
    await sink.wait_for(victim, count=3)
    [notice] = [m for m in sink.to(victim) if m.message["Subject"] == NOTICE]
    assert "/reset-password" in notice.text

    assert (await api.post("/auth/password-reset", json={"email": victim})).status_code == 202
    mails = await sink.wait_for(victim, count=4)
    reset = link_token(mails[-1].text, "/reset-password")
    confirmed = await api.post(
        "/auth/password-reset/confirm", json={"token": reset, "new_password": VICTIM_PASSWORD}
    )

    assert confirmed.status_code == 200, confirmed.text
    assert await login(api, victim, VICTIM_PASSWORD) == 200
    assert await login(api, victim, ATTACKER_PASSWORD) == 401


def _payloads(node: Any) -> list[dict[str, Any]]:
    """Every payload (``{"metadata": …, "data": …}``) anywhere in a history's JSON."""
    if isinstance(node, dict):
        if "metadata" in node and "data" in node:
            return [node]
        return [p for value in node.values() for p in _payloads(value)]
    if isinstance(node, list):
        return [p for value in node for p in _payloads(value)]
    return []


async def test_a_sign_up_history_holds_no_plaintext_password(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources
) -> None:
    """Finding 5: the run's input (and every activity input and result, decoded with the
    client's data converter) carries the hash, never the password."""
    email = victim_address()
    password = f"planted-{uuid.uuid4().hex}"
    workflow_id = await sign_up(api, email, password, "Planted")
    [link] = (await links_by_run(sink, email, workflow_id)).values()
    assert (await api.post("/auth/verify-email", json={"token": link})).status_code == 200
    assert (await run(smtp_resources, workflow_id).result()).status == "verified"

    history = await run(smtp_resources, workflow_id).fetch_history()
    raw = history.to_json()
    codec = data_converter(smtp_resources.settings).payload_codec
    assert codec is not None
    decoded = await codec.decode(payloads_from_json(_payloads(json.loads(raw))))
    plain = b"\n".join(p.data for p in decoded)

    assert b"$argon2id$" in plain, "the decoded history is not what we think it is"
    assert password.encode() not in plain and password.encode() not in raw.encode()
    assert link.encode() not in plain, "the raw link token is in the history"


SIGN_UP = """mutation($input: SignUpInput!) { signUp(input: $input) { id status accessToken } }"""
RUN = "query($id: ID!, $t: String) { workflowRun(id: $id, accessToken: $t) { status result } }"
VERIFY = "mutation($token: String!) { verifyEmail(token: $token) }"
LOGIN = "mutation($input: LoginInput!) { login(input: $input) { tokens { accessToken } } }"


async def test_through_graphql_each_sign_up_has_its_own_run_and_access_token(
    stack: Stack, infra: Infra
) -> None:
    """The gateway's ``signUp`` handed the second caller the first run's access token."""
    victim = victim_address()

    def sign_up_input(password: str, name: str) -> dict[str, Any]:
        return {"input": {"email": victim, "password": password, "displayName": name}}

    attackers = (await gql(stack.graphql, SIGN_UP, sign_up_input(ATTACKER_PASSWORD, "M")))["data"][
        "signUp"
    ]
    victims = (await gql(stack.graphql, SIGN_UP, sign_up_input(VICTIM_PASSWORD, "V")))["data"][
        "signUp"
    ]

    assert attackers["id"] != victims["id"]
    assert attackers["accessToken"] != victims["accessToken"]
    # Neither token opens the other's run.
    crossed = await gql(stack.graphql, RUN, {"id": attackers["id"], "t": victims["accessToken"]})
    assert crossed["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    mails = await wait_for_outbox(infra.settings(), victim, count=2)
    stem = victims["id"].removeprefix("user-registration-").replace("-", "")
    [own] = [t for m in mails if (t := link_token(plain_text(m), "/verify-email")).startswith(stem)]

    assert await gql(stack.graphql, VERIFY, {"token": own}) == {"data": {"verifyEmail": True}}

    def credentials(password: str) -> dict[str, Any]:
        return {"input": {"email": victim, "password": password}}

    signed_in = await gql(stack.graphql, LOGIN, credentials(VICTIM_PASSWORD))
    refused = await gql(stack.graphql, LOGIN, credentials(ATTACKER_PASSWORD))
    assert signed_in["data"]["login"]["tokens"]["accessToken"]
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
