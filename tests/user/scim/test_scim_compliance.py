"""The ``scim2-tester`` compliance checker (python-scim) against the live SCIM endpoint, with every
check it offers (discovery, then for each resource type create, read, list, attribute
selection, replace, delete and the PATCH add/remove/replace checks), on the real stack (every
worker in process). What passes and what cannot, and why (docs/users.md, "SCIM", lists the
same):

- every discovery, error-handling and random-URL check passes;
- the plain run (SCIM's own models): every User check fails at the creation of a User the
  checker fills with random values (a random UUID as ``userName``, no ``emails``: a person here
  signs in with an address; or a 36-character random ``locale``), and a Group check passes or
  fails by chance (a random UUID is a role name only when it starts with a letter; a Group
  filled with members creates a User first). Each failure's reason is asserted;
- the informed run (``test_scim2_tester_with_address_user_names``) tells the checker what
  SCIM's schema cannot say of this server (addresses as ``userName``, role names as Group
  ``displayName``, and well-formed locales, time zones and phone numbers): creation, reads,
  listing, attribute selection, deletion and nearly every PATCH check pass for both types
  through the real workflows; each remaining failure is one of ``INFORMED_RUN_REASONS`` (the
  sign-in address, a Group rename, a member's ``display``, removing ``displayName`` or
  ``active``), and ``POST /.search`` is skipped (a SCIM 501).

Anything else (a 5xx, an unexpected reason, a check that did not run) fails these tests.

The checker is synchronous and the app is async on this test's loop (its database pool lives
there), so the checker runs in a thread through ``scim2-client``'s WSGI engine, whose app
hands each request to the ASGI app on the loop and waits for the answer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable
from typing import Annotated, Any

import httpx
import phonenumbers
import pytest
from pydantic import Field
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_models import Group, PhoneNumber, Required, ScimProvider, Uniqueness, User
from scim2_tester import CheckResult, Status, check_server

from tests.in_process import in_process_client

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(900)]


def bridge(client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> Callable[..., Any]:
    """A WSGI app that forwards each request to ``client`` (an in-process ASGI client) on
    ``loop``, from the checker's thread."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        url = environ["PATH_INFO"] + (
            "?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else ""
        )
        future = asyncio.run_coroutine_threadsafe(
            client.request(environ["REQUEST_METHOD"], url, content=body, headers=headers), loop
        )
        answer = future.result(timeout=120)
        start_response(
            f"{answer.status_code} {answer.reason_phrase}",
            [(k, v) for k, v in answer.headers.items() if k.lower() != "content-length"],
        )
        return [answer.content]

    return app


def describe(result: CheckResult) -> str:
    return (
        f"{result.status.name:8} {result.resource_type or '-':6} {result.title}: "
        f"{(result.reason or '')[:300]}"
    )


async def run_checker(
    world: Any, token: str, models: list[type[Any]] | None = None, types: list[str] | None = None
) -> list[CheckResult]:
    loop = asyncio.get_running_loop()
    async with in_process_client(world.api.app, base_url="http://user") as client:
        scim = WSGISCIMClient(
            bridge(client, loop),
            base_url="http://user/scim/v2",
            headers={"Authorization": f"Bearer {token}"},
            provider=ScimProvider(models=models) if models else None,
        )
        return await asyncio.to_thread(check_server, scim, False, None, None, types)


#: Why a check of the plain run fails (see the docstring): the checker's random ``userName``
#: (not an address), ``locale`` (36 characters), Group ``displayName`` (a UUID, a role name only
#: when it starts with a letter).
PLAIN_RUN_REASONS = {
    "User": ("userName: not a valid e-mail address", "locale: String should have at most 35"),
    # A Group filled with members creates a User for them first: that fails as above.
    "Group": (
        "displayName: a Group is a custom role",
        "userName: not a valid e-mail address",
        "locale: String should have at most 35",
    ),
}
#: The checks every resource type gets (scim2-tester 0.5).
RESOURCE_CHECKS = {
    "object_creation",
    "object_query",
    "object_query_without_id",
    "object_replacement",
    "object_deletion",
    "check_add_attribute",
    "check_remove_attribute",
    "check_replace_attribute",
}
DISCOVERY_CHECKS = {
    "service_provider_config_endpoint",
    "service_provider_config_endpoint_methods",
    "query_all_resource_types",
    "query_resource_type_by_id",
    "query_all_schemas",
    "access_schema_by_id",
    "random_url",
}
#: POST /.search (RFC 7644 3.4.3) is a SCIM 501, which the checker counts as "not supported".
SEARCH_SKIPPED = "POST /.search: searching several resource types at once is not supported"


async def test_scim2_tester_checks_pass(scim_world: Any) -> None:
    """The checker with SCIM's own models: discovery passes; every resource check passes or
    fails for a reason of ``PLAIN_RUN_REASONS`` (its random values), never another."""
    async with scim_world() as world:
        tenant = await world.tenant(members=1)
        results = await run_checker(world, tenant.token)
    report = "\n".join(describe(r) for r in results)
    print(report)
    others = [r for r in results if not r.resource_type]
    assert {r.title for r in others} >= DISCOVERY_CHECKS, report
    assert all(r.status == Status.SUCCESS for r in others), report
    for kind, reasons in PLAIN_RUN_REASONS.items():
        checks = [r for r in results if r.resource_type == kind]
        assert {r.title for r in checks} >= RESOURCE_CHECKS, report
        for result in checks:
            if result.status == Status.SUCCESS:
                continue
            assert result.status == Status.ERROR, describe(result)
            assert (result.reason or "").startswith(reasons), describe(result)
    users = [r for r in results if r.resource_type == "User"]
    assert all(r.status == Status.ERROR for r in users), report


def _e164(region: str) -> str:
    number = phonenumbers.example_number(region)
    assert number is not None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class E164PhoneNumber(PhoneNumber):
    """A phone number whose examples are E.164 numbers (RFC 7643 4.1.2 says the value SHOULD
    follow RFC 3966; the profile keeps E.164), for the checker."""

    value: str | None = Field(
        None, examples=[_e164(r) for r in ("CH", "DE", "FR", "GB", "US", "JP", "BR", "IN")]
    )


class RoleGroup(Group):
    """The core Group, with ``displayName`` examples that are custom role names (3-40
    lower-case letters, digits and hyphens, starting with a letter): a Group is a role here,
    which SCIM's schema cannot say either."""

    display_name: Annotated[str | None, Required.true] = Field(
        None, examples=[f"g{uuid.uuid4().hex[:24]}" for _ in range(5000)]
    )


class AddressUser(User):
    """The core User, with ``userName`` examples that are e-mail addresses (what SCIM's schema
    cannot say of this server), and ``locale``, ``timezone`` and phone examples in the formats
    RFC 7643 names for them (BCP 47, the Olson database, RFC 3966 / E.164), which the checker's
    random strings are not: told to the checker so that its Users can be created."""

    user_name: Annotated[str | None, Uniqueness.server, Required.true] = Field(
        None, examples=[f"{uuid.uuid4().hex}@example.com" for _ in range(5000)]
    )
    locale: str | None = Field(None, examples=["en-US", "de-CH", "fr-FR", "ja-JP", "pt-BR"])
    timezone: str | None = Field(
        None, examples=["Europe/Zurich", "America/New_York", "Asia/Tokyo", "Australia/Sydney"]
    )
    phone_numbers: list[E164PhoneNumber] | None = None  # type: ignore[assignment]


#: Why a check fails once the checker's values are ones a person here can have: SCIM cannot
#: change the sign-in address (``userName``, ``emails``: the account's, auth's); a profile
#: keeps a display name and a member an ``active``; a Group is a role and cannot be renamed;
#: a member's ``display`` in a Group is the member's name as the platform holds it (RFC 7643
#: 2.4), not the checker's random one.
INFORMED_RUN_REASONS = {
    "User": (
        "userName is the account's sign-in address",
        "Failed to replace attribute 'userName': userName is the account's sign-in address",
        "Failed to add attribute 'emails': emails: the address is the account's",
        "Failed to replace attribute 'emails': emails: the address is the account's",
        "PATCH modify() did not remove attribute 'emails'",
        # A profile keeps a display name (a remove keeps the one there is), and a member is
        # active or not: removing ``active`` changes nothing.
        "PATCH modify() did not remove attribute 'displayName'",
        "PATCH modify() did not remove attribute 'active'",
    ),
    "Group": (
        "displayName is the role's name: a Group cannot be renamed",
        "Failed to replace attribute 'displayName': displayName is the role's name",
        "PATCH modify() returned unexpected value for 'members'",
    ),
}


async def test_scim2_tester_with_address_user_names(scim_world: Any) -> None:
    """Every check again, told what the schema cannot say (addresses as ``userName``s, role
    names as Group ``displayName``s, well-formed locales, time zones and phone numbers): the
    writes run through the real workflows; creation, reads, listing, attribute selection and
    deletion pass for both types, and every other result is a failure explained by
    ``INFORMED_RUN_REASONS`` (never a 5xx) or the skipped ``/.search``."""
    async with scim_world() as world:
        tenant = await world.tenant(members=0)
        # One run per type: within one run the checker may name, in a Group, a User its User
        # checks deleted already (a 404 that says nothing of the server).
        results: list[CheckResult] = []
        for kind in INFORMED_RUN_REASONS:
            models: list[type[Any]] = [AddressUser, RoleGroup]
            results += await run_checker(world, tenant.token, models, [kind])
    report = "\n".join(describe(r) for r in results)
    print(report)
    for kind, reasons in INFORMED_RUN_REASONS.items():
        checks = [r for r in results if r.resource_type == kind]
        passed = {r.title for r in checks if r.status == Status.SUCCESS}
        assert passed >= {
            "object_creation",
            "object_query",
            "object_query_without_id",
            "object_query_with_attributes",
            "object_list_with_attributes",
            "object_deletion",
            "check_add_attribute",
            "check_remove_attribute",
            "check_replace_attribute",
        }, report
        for result in checks:
            if result.status == Status.SUCCESS:
                continue
            if result.status == Status.SKIPPED:
                assert (result.reason or "").startswith(SEARCH_SKIPPED), describe(result)
                continue
            assert result.status == Status.ERROR, describe(result)
            assert (result.reason or "").startswith(reasons), describe(result)
