"""The ``scim2-tester`` compliance checker (python-scim) against the live SCIM endpoint, with every
check it offers (discovery, then for each resource type create, read, list, replace, delete and
the PATCH add/remove/replace checks), on the real stack (every worker in process).

What passes and what cannot, and why (docs/users.md, "SCIM", lists the same):

- every discovery, error-handling and random-URL check passes;
- every User check fails at its first step, the creation of a User the checker fills with
  random values: its ``userName`` is a random UUID string with no ``emails``, and a person
  here is an account that signs in with an e-mail address, so the create is a SCIM 400
  ``invalidValue`` ("userName: not a valid e-mail address"); where it fills every attribute,
  a random ``locale`` of 36 characters is refused by the profile rules first. The writes
  themselves are covered by ``test_scim_identity_provider.py`` and ``test_scim_writes.py``;
- every Group check fails at the creation of a Group: Groups are the tenant's roles, and a
  role is created through the tenant's roles API, not over SCIM (501); the checks that fill
  a Group's members first create a User for them, and fail as above.

Anything else (a 5xx, an unexpected reason, a check that did not run) fails this test. A second
run (``test_scim2_tester_with_address_user_names``) tells the checker that ``userName`` is an
e-mail address, so its Users are created through ``user_onboarding`` and its PATCH, PUT and
DELETE checks reach the real workflows: creation, the reads, listing and deletion pass; each
other failure is an attribute accepted and not stored, a random value the profile rules refuse,
or the address SCIM cannot change (``ADDRESS_RUN_REASONS``).

The checker is synchronous and the app is async on this test's loop (its database pool lives
there), so the checker runs in a thread through ``scim2-client``'s WSGI engine, whose app
hands each request to the ASGI app on the loop and waits for the answer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable
from typing import Annotated, Any

import httpx
import pytest
from pydantic import Field
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_models import Group, Required, ScimProvider, Uniqueness, User
from scim2_tester import CheckResult, Status, check_server

from tests.in_process import in_process_client

pytestmark = pytest.mark.asyncio(loop_scope="session")


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
        answer = future.result(timeout=30)
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


#: Why the checks of each resource type cannot pass (see the docstring).
EXPECTED_REASONS = {
    "User": ("userName: not a valid e-mail address", "locale: String should have at most 35"),
    # A Group filled with members creates a User for them first: that fails as above.
    "Group": ("Groups are the tenant's roles", "userName: not a valid e-mail address"),
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


async def test_scim2_tester_checks_pass(scim_world: Any) -> None:
    async with scim_world() as world:
        tenant = await world.tenant(members=1)
        results = await run_checker(world, tenant.token)
    report = "\n".join(describe(r) for r in results)
    print(report)
    others = [r for r in results if not r.resource_type]
    assert {r.title for r in others} >= {
        "service_provider_config_endpoint",
        "service_provider_config_endpoint_methods",
        "query_all_resource_types",
        "query_resource_type_by_id",
        "query_all_schemas",
        "access_schema_by_id",
        "random_url",
    }, report
    assert all(r.status == Status.SUCCESS for r in others), report
    for kind, reasons in EXPECTED_REASONS.items():
        checks = [r for r in results if r.resource_type == kind]
        assert {r.title for r in checks} >= RESOURCE_CHECKS, report
        for result in checks:
            assert result.status == Status.ERROR, report
            assert (result.reason or "").startswith(reasons), report


class AddressUser(User):
    """The core User, with ``userName`` examples that are e-mail addresses: what SCIM's schema
    cannot say of this server, told to the checker so that its Users can be created."""

    user_name: Annotated[str | None, Uniqueness.server, Required.true] = Field(
        None, examples=[f"{uuid.uuid4().hex}@example.com" for _ in range(5000)]
    )


#: Why a User check fails once its Users can be created: an attribute the platform keeps no
#: field for is accepted and not stored (the checker reads back another value); a value the
#: profile rules refuse (the checker's random locale, time zone, phone); the address, which
#: SCIM cannot change.
ADDRESS_RUN_REASONS = (
    "PATCH modify() returned unexpected value for",
    "locale: String should have at most 35 characters",
    "Failed to add attribute 'locale'",
    "Failed to replace attribute 'locale'",
    "Failed to add attribute 'timezone'",
    "Failed to replace attribute 'timezone'",
    "Failed to add attribute 'phoneNumbers'",
    "Failed to replace attribute 'phoneNumbers'",
    "Failed to add attribute 'emails'",
    "Failed to replace attribute 'emails'",
    "Failed to replace attribute 'userName'",
    "userName is the account's sign-in address",
)


async def test_scim2_tester_with_address_user_names(scim_world: Any) -> None:
    """The User checks again, with addresses as ``userName``s: the writes run through the real
    workflows; creation, reads, listing and deletion pass, and every other result is a failure
    explained by ``ADDRESS_RUN_REASONS`` (never a 5xx)."""
    async with scim_world() as world:
        tenant = await world.tenant(members=0)
        results = await run_checker(world, tenant.token, [AddressUser, Group], ["User"])
    report = "\n".join(describe(r) for r in results)
    print(report)
    users = [r for r in results if r.resource_type == "User"]
    passed = {r.title for r in users if r.status == Status.SUCCESS}
    assert {"object_creation", "object_query", "object_query_without_id"} <= passed, report
    assert "object_deletion" in passed, report
    for result in users:
        if result.status != Status.SUCCESS:
            assert result.status == Status.ERROR, report
            assert (result.reason or "").startswith(ADDRESS_RUN_REASONS), describe(result)
