"""A bulk import through ``POST /users/bulk/operations?operation=import`` on the real dev server: a CSV with
good and malformed rows, and a JSON upload. Malformed rows are reported at once and the rest run
as ``user_onboarding`` children on ``<prefix>-workflow`` with the row's fields; a row that child
refuses fails alone. The first two tests run the TEST-ONLY stand-in of ``user_onboarding``
(``tests/user/bulk/onboarding_stand_in.py``, held to its contract: the rows' fields reach it
exactly, and it can refuse a row on demand); the last runs the real one."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from storage.auth.repository import CredentialRepository
from storage.db import transaction
from storage.tenants.repository import MembershipRepository
from storage.users.directory import DirectoryRepository
from tests.user.bulk.bulk_api import bulk_client, finished, report, rows_by_status, team, upload
from tests.user.bulk.onboarding_stand_in import StandInUserOnboardingWorkflow, stand_in_user_id
from workflows.onboarding.contracts import UserOnboardingInput

pytestmark = pytest.mark.timeout(180)

CSV = (
    "email,display_name,given_name,family_name,role,locale,time_zone\n"
    "ann@example.com,Ann Example,Ann,Example,admin,de-ch,Europe/Zurich\n"
    "not-an-address,Bob,,,member,,\n"
    "cy@example.com,Cy\n"
    '"dee@example.com,"Dee\n'
    "\n"
    "eve@example.com,Eve,,,,,\n"
    "refuse-me@example.com,Ref,,,,,\n"
    "fay@example.com,Fay,,,member,xx-nope,\n"
    "EVE@example.com,Eve again,,,,,\n"
    'gus@example.com,"Gus, Jr.",,,,,Mars/Olympus\n'
)


async def _child_input(temporal: Client, workflow_id: str, row: int) -> UserOnboardingInput:
    history = await temporal.get_workflow_handle(f"{workflow_id}-row-{row}").fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    (value,) = await temporal.data_converter.decode(started.input.payloads, [UserOnboardingInput])
    assert isinstance(value, UserOnboardingInput)
    return value


async def test_csv_import_reports_malformed_rows_and_imports_the_rest(
    temporal: Client,
    bulk_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    async with bulk_stack(on_workflow_queue=[StandInUserOnboardingWorkflow]) as stack:
        a = await team(temporal, stack, auth_runtime, tenant_resources, user_resources, 0)
        async with bulk_client(
            user_resources, auth_runtime, stack, a.owner.id, a.tenant_id, user_bulk_batch_size=2
        ) as client:
            started = await upload(client, "import", CSV.encode())
            assert started.status_code == 202, started.text
            workflow_id = started.json()["workflow_id"]
            result = await finished(temporal, workflow_id)
            got = await report(client, workflow_id)
            ann = await _child_input(temporal, workflow_id, 1)
            eve = await _child_input(temporal, workflow_id, 5)

    assert (result.total, result.done, result.failed) == (9, 2, 7)
    assert rows_by_status(got) == {"done": [1, 5], "failed": [2, 3, 4, 6, 7, 8, 9]}
    rows = {r["row_number"]: r for r in got["rows"]}
    assert rows[1]["user_id"] == stand_in_user_id("ann@example.com")
    assert rows[5]["user_id"] == stand_in_user_id("eve@example.com")
    assert rows[2]["error"].startswith("email:")
    assert rows[3]["error"] == "the row has 2 fields, the header 7"
    assert rows[4]["error"].startswith("not a CSV row")
    assert rows[6]["error"] == "this person cannot join the tenant"
    assert rows[7]["error"].startswith("locale")
    assert rows[8]["error"] == "duplicate of row 5"
    assert rows[9]["error"].startswith("time zone") or "time_zone" in rows[9]["error"]
    assert (ann.tenant_id, ann.email, ann.role, ann.actor_id) == (
        a.tenant_id,
        "ann@example.com",
        "admin",
        str(a.owner.id),
    )
    assert (ann.display_name, ann.given_name, ann.family_name) == ("Ann Example", "Ann", "Example")
    assert (ann.locale, ann.time_zone, ann.source) == ("de-CH", "Europe/Zurich", "bulk_import")
    assert eve.role == "member" and eve.locale is None


async def test_json_import(
    temporal: Client,
    bulk_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    rows = [
        {"email": "hal@example.com", "display_name": "Hal"},
        {"email": 42},
        "not an object",
        {"email": "ida@example.com", "role": "member"},
    ]
    async with bulk_stack(on_workflow_queue=[StandInUserOnboardingWorkflow]) as stack:
        a = await team(temporal, stack, auth_runtime, tenant_resources, user_resources, 0)
        async with bulk_client(
            user_resources, auth_runtime, stack, a.owner.id, a.tenant_id
        ) as client:
            started = await upload(client, "import", json.dumps(rows).encode(), "application/json")
            assert started.status_code == 202, started.text
            workflow_id = started.json()["workflow_id"]
            result = await finished(temporal, workflow_id)
            got = await report(client, workflow_id)

    assert (result.total, result.done, result.failed) == (4, 2, 2)
    assert rows_by_status(got) == {"done": [1, 4], "failed": [2, 3]}
    assert got["rows"][1]["error"] == "email: must be text"
    assert got["rows"][2]["error"] == "the row is not an object"


async def test_import_through_the_real_user_onboarding(
    temporal: Client,
    bulk_stack: Any,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    """The workflow service's worker runs ``user_onboarding``: each imported row is an account,
    a membership with the row's role and a directory entry; a malformed row is reported."""
    run = uuid.uuid4().hex[:8]
    people = [f"bulk-{run}-{n}@example.com" for n in ("ann", "bob")]
    body = (
        "email,display_name,role\n"
        f"{people[0]},Ann,admin\n"
        "not-an-address,Nobody,member\n"
        f"{people[1]},Bob,\n"
    ).encode()
    async with bulk_stack(workflow_service=True) as stack:
        a = await team(temporal, stack, auth_runtime, tenant_resources, user_resources, 0)
        async with bulk_client(
            user_resources, auth_runtime, stack, a.owner.id, a.tenant_id
        ) as client:
            started = await upload(client, "import", body)
            assert started.status_code == 202, started.text
            workflow_id = started.json()["workflow_id"]
            result = await finished(temporal, workflow_id)
            got = await report(client, workflow_id)

    assert (result.total, result.done, result.failed) == (3, 2, 1), got
    assert rows_by_status(got) == {"done": [1, 3], "failed": [2]}
    tid = uuid.UUID(a.tenant_id)
    for row, role in ((got["rows"][0], "admin"), (got["rows"][2], "member")):
        user_id = uuid.UUID(row["user_id"])
        async with transaction(auth_resources.database) as db:
            assert await CredentialRepository(db).get(user_id) is not None
        async with transaction(tenant_resources.database, tid) as db:
            membership = await MembershipRepository(db, tid).of_user(user_id)
        async with transaction(user_resources.database, tid) as db:
            entry = await DirectoryRepository(db, tid).entry(user_id)
        assert membership is not None and membership.role == role
        assert entry is not None and entry.email == row["email"]
