"""Issue 6, finding 2 (account pre-hijacking) and finding 5 (the sign-up password in workflow
payloads), end to end over the auth API with the mails delivered over SMTP to a real sink.

Before the fix: the attacker signed up ``victim@`` with the attacker's password; the victim's own
sign-up joined that run (same id, same run access token, no new mail, the victim's password
dropped); the victim clicked the one mail and the account was verified with the attacker's
password. The rule now: every sign-up is its own run with its own link, and the run whose link
is redeemed first creates the account with *its* password hash and display name.

And since the victim then finds two confirmation mails, a **contested** address (more than one
sign-up within the verification window) needs, at the click, the password typed at the sign-up
whose link it is (``services/auth/registration/contested.py``):
- the victim's own mail, with the victim's password (whatever order the sign-ups came in): the
  victim owns the account; the attacker's link then fails with 409 and only the mailbox (the
  victim) gets the notice;
- the attacker's mail: without a password ``PASSWORD_REQUIRED``, with the victim's password
  ``PASSWORD_MISMATCH``; nothing is created either way and the victim's own link still works.
- An uncontested sign-up (the normal case) verifies with its link alone. So an attacker's
  sign-up the victim never matched with one of their own is still accepted by clicking its
  unsolicited mail (which says "if you did not sign up, ignore this mail"); the reset the
  notice offers then proves the mailbox, replaces the password and ends every session.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import WorkflowHandle

from services.common.codec import data_converter, payloads_from_json
from services.common.resources import Resources
from storage.db import transaction
from storage.users.models import Profile
from tests.auth.mail_flows import SmtpSink, link_token, plain_text, wait_for_outbox
from tests.graphql_client import gql
from tests.support import Infra, Stack
from workflows.auth.user_registration import RegistrationResult

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


async def verify(api: httpx.AsyncClient, token: str, password: str | None = None) -> httpx.Response:
    body = {"token": token} if password is None else {"token": token, "password": password}
    return await api.post("/auth/verify-email", json=body)


def problem_code(answer: httpx.Response) -> str | None:
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    code = answer.json().get("code")
    return str(code) if code is not None else None


async def login(api: httpx.AsyncClient, email: str, password: str) -> int:
    answer = await api.post("/auth/login", json={"email": email, "password": password})
    return answer.status_code


async def display_names(resources: Resources, email: str) -> list[str]:
    async with transaction(resources.database) as db:
        return list(await db.scalars(select(Profile.display_name).where(Profile.email == email)))


def notices(sink: SmtpSink, email: str) -> int:
    return sum(m.message["Subject"] == NOTICE for m in sink.to(email))


async def contested(
    api: httpx.AsyncClient, sink: SmtpSink, *, attacker_first: bool = True
) -> tuple[str, str, str, dict[str, str]]:
    """A fresh address with two waiting sign-ups, the attacker's and the victim's (in that
    order unless ``attacker_first`` is False): the address, the two run ids and their links."""
    victim = victim_address()
    if attacker_first:
        attackers = await sign_up(api, victim, ATTACKER_PASSWORD, "Mallory")
        victims = await sign_up(api, victim, VICTIM_PASSWORD, "Victim")
        links = await links_by_run(sink, victim, attackers, victims)
    else:
        victims = await sign_up(api, victim, VICTIM_PASSWORD, "Victim")
        attackers = await sign_up(api, victim, ATTACKER_PASSWORD, "Mallory")
        links = await links_by_run(sink, victim, victims, attackers)
    return victim, attackers, victims, links


async def assert_the_victim_owns(api: httpx.AsyncClient, resources: Resources, victim: str) -> None:
    assert await login(api, victim, VICTIM_PASSWORD) == 200
    assert await login(api, victim, ATTACKER_PASSWORD) == 401
    assert await display_names(resources, victim) == ["Victim"]


async def assert_taken_late(
    api: httpx.AsyncClient, resources: Resources, link: str, workflow_id: str
) -> None:
    """A link clicked after the address got its account: 409, its run ends address_taken."""
    late = await verify(api, link)
    assert late.status_code == 409, late.text
    assert (await run(resources, workflow_id).result()).status == "address_taken"


async def test_the_victims_own_sign_up_wins_after_an_attackers(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources
) -> None:
    victim, attackers, victims, links = await contested(api, sink)
    assert attackers != victims, "the victim's sign-up joined the attacker's run"
    assert links[attackers] != links[victims]

    # Two sign-ups wait for the address: the link alone is not enough, its password is.
    alone = await verify(api, links[victims])
    assert alone.status_code == 400 and problem_code(alone) == "PASSWORD_REQUIRED", alone.text
    clicked = await verify(api, links[victims], VICTIM_PASSWORD)

    assert clicked.status_code == 200 and clicked.json() == {"status": "verified"}
    assert (await run(smtp_resources, victims).result()).status == "verified"
    await assert_the_victim_owns(api, smtp_resources, victim)
    # The attacker's link (in the victim's mailbox) no longer creates anything.
    await assert_taken_late(api, smtp_resources, links[attackers], attackers)
    await sink.wait_for(victim, count=3)
    assert notices(sink, victim) == 1
    assert await login(api, victim, VICTIM_PASSWORD) == 200


async def test_the_victims_own_sign_up_wins_before_an_attackers(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources
) -> None:
    victim, attackers, victims, links = await contested(api, sink, attacker_first=False)
    assert attackers != victims

    clicked = await verify(api, links[victims], VICTIM_PASSWORD)

    assert clicked.status_code == 200
    await assert_the_victim_owns(api, smtp_resources, victim)
    await assert_taken_late(api, smtp_resources, links[attackers], attackers)


async def test_the_attackers_link_needs_the_attackers_password(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources
) -> None:
    """The hole left by one run per sign-up: the victim, with two mails, clicks the attacker's."""
    victim, attackers, victims, links = await contested(api, sink)

    # The victim clicks the attacker's confirmation: the password of that sign-up is asked for.
    asked = await verify(api, links[attackers])
    assert asked.status_code == 400, asked.text
    assert problem_code(asked) == "PASSWORD_REQUIRED"
    assert "More than one sign-up was made with this address" in asked.json()["detail"]
    # The victim types their own password: not this sign-up's, so nothing is created.
    refused = await verify(api, links[attackers], VICTIM_PASSWORD)
    assert refused.status_code == 403, refused.text
    assert problem_code(refused) == "PASSWORD_MISMATCH"
    assert "another password" in refused.json()["detail"]
    assert "own sign-up" in refused.json()["detail"]
    assert await login(api, victim, ATTACKER_PASSWORD) == 401
    assert await login(api, victim, VICTIM_PASSWORD) == 401
    assert await display_names(smtp_resources, victim) == []
    # Both runs still wait; the victim's own link (with the victim's password) wins.
    for workflow_id in (attackers, victims):
        described = await run(smtp_resources, workflow_id).describe()
        assert described.status is not None and described.status.name == "RUNNING"
    own = await verify(api, links[victims], VICTIM_PASSWORD)
    assert own.status_code == 200 and own.json() == {"status": "verified"}, own.text

    await assert_the_victim_owns(api, smtp_resources, victim)
    # The attacker's link now meets a taken address: 409 and the notice, no password asked.
    await assert_taken_late(api, smtp_resources, links[attackers], attackers)
    assert (await run(smtp_resources, victims).result()).status == "verified"


async def test_the_registrant_of_a_contested_sign_up_verifies_with_their_password(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources
) -> None:
    """Contested the other way round: the attacker's password opens only the attacker's link
    (the attacker has no access to the mailbox, so that case needs the mailbox anyway)."""
    victim, _, victims, links = await contested(api, sink, attacker_first=False)

    crossed = await verify(api, links[victims], ATTACKER_PASSWORD)
    assert crossed.status_code == 403 and problem_code(crossed) == "PASSWORD_MISMATCH"
    assert (await verify(api, links[victims], VICTIM_PASSWORD)).status_code == 200
    assert await login(api, victim, VICTIM_PASSWORD) == 200


async def test_wrong_passwords_at_a_contested_link_are_throttled(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources
) -> None:
    """No guessing oracle: wrong passwords count on the login throttle, keyed on the run."""
    _, attackers, victims, links = await contested(api, sink)
    free = smtp_resources.settings.auth_login_free_attempts

    for attempt in range(free):
        guess = await verify(api, links[attackers], f"guess number {attempt} of many")
        assert guess.status_code == 403, guess.text
    throttled = await verify(api, links[attackers], ATTACKER_PASSWORD)
    assert throttled.status_code == 429, throttled.text
    assert int(throttled.headers["retry-after"]) >= 1
    # Another run's counter is its own: the victim's link is not locked by guesses at another.
    assert (await verify(api, links[victims], VICTIM_PASSWORD)).status_code == 200


async def test_an_uncontested_sign_up_verifies_with_its_link_alone(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources
) -> None:
    """One sign-up for the address: the link alone (a password sent anyway is not needed)."""
    email = victim_address()
    workflow_id = await sign_up(api, email, VICTIM_PASSWORD, "Alone")
    [link] = (await links_by_run(sink, email, workflow_id)).values()

    clicked = await verify(api, link)

    assert clicked.status_code == 200 and clicked.json() == {"status": "verified"}
    assert await login(api, email, VICTIM_PASSWORD) == 200


async def test_an_unsolicited_uncontested_mail_clicked_is_undone_by_the_reset(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources
) -> None:
    """The case the contested rule cannot cover: the victim never signed up, yet clicks the
    attacker's confirmation mail ("if you did not sign up, ignore this mail"). That click accepts
    the attacker's sign-up; a later sign-up of the victim's gets the notice, which sends them to
    password reset: the reset proves the mailbox, replaces the password and ends every session."""
    victim = victim_address()
    attackers = await sign_up(api, victim, ATTACKER_PASSWORD, "Mallory")
    [link] = (await links_by_run(sink, victim, attackers)).values()

    wrong = await verify(api, link)
    assert wrong.status_code == 200
    assert await login(api, victim, ATTACKER_PASSWORD) == 200
    await sign_up(api, victim, VICTIM_PASSWORD, "Victim")
    mails = await sink.wait_for(victim, count=2)
    [notice] = [m for m in mails if m.message["Subject"] == NOTICE]
    assert "/reset-password" in notice.text

    assert (await api.post("/auth/password-reset", json={"email": victim})).status_code == 202
    mails = await sink.wait_for(victim, count=3)
    reset = link_token(mails[-1].text, "/reset-password")
    confirmed = await api.post(
        "/auth/password-reset/confirm", json={"token": reset, "new_password": VICTIM_PASSWORD}
    )

    assert confirmed.status_code == 200, confirmed.text
    assert await login(api, victim, VICTIM_PASSWORD) == 200
    assert await login(api, victim, ATTACKER_PASSWORD) == 401


@pytest.mark.parametrize(
    "password",
    ["x" * (1 << 20), 42, ["a password"], {"p": "w"}, True, "", "x" * 1025],
    ids=["megabyte", "number", "list", "object", "bool", "empty", "over-1024"],
)
async def test_a_malformed_password_at_the_click_is_a_4xx(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources, password: Any
) -> None:
    _, _, victims, links = await contested(api, sink)

    answer = await api.post(
        "/auth/verify-email", json={"token": links[victims], "password": password}
    )

    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    # The link is still good for its registrant.
    assert (await verify(api, links[victims], VICTIM_PASSWORD)).status_code == 200


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
VERIFY_WITH = (
    "mutation($token: String!, $password: String) "
    "{ verifyEmail(token: $token, password: $password) }"
)
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
    tokens = [link_token(plain_text(m), "/verify-email") for m in mails]
    stem = victims["id"].removeprefix("user-registration-").replace("-", "")
    [own] = [t for t in tokens if t.startswith(stem)]
    [theirs] = [t for t in tokens if t != own]

    # Contested: verifyEmail(token) asks for the password, in extensions.code.
    asked = await gql(stack.graphql, VERIFY, {"token": theirs})
    assert asked["errors"][0]["extensions"]["code"] == "PASSWORD_REQUIRED", asked
    assert "More than one sign-up" in asked["errors"][0]["message"]
    refused = await gql(stack.graphql, VERIFY_WITH, {"token": theirs, "password": VICTIM_PASSWORD})
    assert refused["errors"][0]["extensions"]["code"] == "PASSWORD_MISMATCH", refused
    assert "another password" in refused["errors"][0]["message"]
    # Malformed passwords are client errors, never an internal one.
    # (half a megabyte: a whole one is the gateway's body limit, a 413 before any resolver)
    huge = await gql(stack.graphql, VERIFY_WITH, {"token": own, "password": "x" * 500_000})
    assert huge["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", huge
    typed = await gql(stack.graphql, VERIFY_WITH, {"token": own, "password": 42})
    assert typed.get("errors") and not (typed.get("data") or {}).get("verifyEmail"), typed

    answer = await gql(stack.graphql, VERIFY_WITH, {"token": own, "password": VICTIM_PASSWORD})
    assert answer == {"data": {"verifyEmail": True}}

    def credentials(password: str) -> dict[str, Any]:
        return {"input": {"email": victim, "password": password}}

    signed_in = await gql(stack.graphql, LOGIN, credentials(VICTIM_PASSWORD))
    refused = await gql(stack.graphql, LOGIN, credentials(ATTACKER_PASSWORD))
    assert signed_in["data"]["login"]["tokens"]["accessToken"]
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
