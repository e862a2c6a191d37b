"""Bad input, permission and tenant isolation of the bulk routes: every refusal a 4xx problem+json
(never a 500) that stores nothing; a plain member and a caller of no tenant are refused; one
tenant's admin never reads another tenant's report (404, as an unknown run)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from services.user.bulk.upload import parse_upload
from storage.db import transaction
from storage.users.bulk_operations import BulkOperationRepository, NewRow
from storage.users.models import BulkOperation
from tests.user.bulk.bulk_api import upload
from tests.user.user_api import UserApi
from workflows.accounts.bulk_user_operation import bulk_user_operation_workflow_id
from workflows.user.bulk_contracts import MAX_BYTES, MAX_ROWS, BulkKind

PROBLEM = "application/problem+json"
MEGABYTE = "x" * 1_000_000


def _rows(n: int) -> bytes:
    return ("email\n" + "".join(f"u{i}@example.com\n" for i in range(n))).encode()


BAD_UPLOADS = [
    # (operation, body, content type, status)
    ("import", b"email\n\xff\xfe@example.com\n", "text/csv", 422),  # not UTF-8
    ("import", b"mail,name\na@example.com,A\n", "text/csv", 422),  # unknown columns
    ("import", b"display_name\nA\n", "text/csv", 422),  # no email column
    ("change_role", b"user_id\n" + str(uuid.uuid4()).encode(), "text/csv", 422),  # no role
    ("import", b"email,email\na@example.com,b@example.com\n", "text/csv", 422),
    ("import", b"", "text/csv", 422),
    ("import", b"email\n", "text/csv", 422),  # a header, no rows
    ("import", b"email\na\x00@example.com\n", "text/csv", 422),
    ("import", b'{"email": "a@example.com"}', "application/json", 422),  # not an array
    ("import", b"[" * 100_000, "application/json", 422),  # nested too deep
    ("import", b"[{'email': 1}]", "application/json", 422),
    ("import", json.dumps([{"e" * 1000: 1}]).encode(), "application/json", 422),
    ("import", f"{MEGABYTE}\na@example.com\n".encode(), "text/csv", 422),  # megabyte header
    ("import", b"email\na@example.com\n", "text/plain", 415),
    ("import", b"email\na@example.com\n", "application/xml", 415),
    ("import", _rows(MAX_ROWS + 1), "text/csv", 413),
    (
        "import",
        json.dumps([{"email": "a@b.ch"}] * (MAX_ROWS + 1)).encode(),
        "application/json",
        413,
    ),
    ("import", b"email\n" + b"a" * (MAX_BYTES + 1), "text/csv", 413),
    ("drop_table", b"email\na@example.com\n", "text/csv", 422),
    ("x" * 5000, b"email\na@example.com\n", "text/csv", 422),
]


async def _operations(api: UserApi, tenant_id: uuid.UUID) -> list[BulkOperation]:
    async with transaction(api.resources.database, tenant_id) as db:
        return await BulkOperationRepository(db, tenant_id).list(limit=1000)


@pytest.mark.parametrize(("operation", "body", "media_type", "status"), BAD_UPLOADS)
async def test_a_bad_upload_is_refused_and_stores_nothing(
    user_api: UserApi, operation: str, body: bytes, media_type: str, status: int
) -> None:
    tenant_id, owner = uuid.uuid4(), uuid.uuid4()
    async with user_api.client(owner, tenant_id, "owner") as client:
        answer = await upload(client, operation, body, media_type)
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["content-type"] == PROBLEM
    assert await _operations(user_api, tenant_id) == []


def test_rows_with_megabyte_cells_fail_alone() -> None:
    """A megabyte cell in a row (CSV or JSON) is that row's failure; the others stay."""
    as_json = json.dumps(
        [{"email": "a@example.com", "display_name": MEGABYTE}, {"email": "b@c.ch"}]
    )
    as_csv = f"email,display_name\na@example.com,{MEGABYTE}\nb@c.ch,B\n"
    for body, media_type in ((as_json, "json"), (as_csv, "csv")):
        rows = parse_upload(BulkKind.IMPORT, body.encode(), media_type).rows
        assert [(r.status, r.error) for r in rows] == [
            ("failed", "display_name: longer than 400 characters")
            if media_type == "json"
            else ("failed", rows[0].error),
            ("pending", None),
        ]
        assert rows[0].error


@pytest.mark.parametrize(
    ("role", "permissions"), [("member", None), ("admin", ["users.read", "members.invite"])]
)
async def test_without_members_manage_refused(
    user_api: UserApi, role: str, permissions: list[str] | None
) -> None:
    tenant_id, caller = uuid.uuid4(), uuid.uuid4()
    workflow_id = await _stored_operation(user_api, tenant_id)
    async with user_api.client(caller, tenant_id, role, permissions) as client:
        started = await upload(client, "deactivate", f"user_id\n{uuid.uuid4()}\n".encode())
        read = await client.get(f"/users/bulk/{workflow_id}/report")
    assert started.status_code == read.status_code == 403
    assert started.json()["code"] == read.json()["code"] == "PermissionDenied"
    assert await _operations(user_api, tenant_id) != []  # only the one stored by the test


async def test_a_token_of_no_tenant_is_refused(user_api: UserApi) -> None:
    async with user_api.client(uuid.uuid4(), None) as client:
        answer = await upload(client, "import", b"email\na@example.com\n")
    assert answer.status_code == 403


async def _stored_operation(api: UserApi, tenant_id: uuid.UUID) -> str:
    operation_id = uuid.uuid4()
    workflow_id = bulk_user_operation_workflow_id(str(operation_id))
    async with transaction(api.resources.database, tenant_id) as db:
        await BulkOperationRepository(db, tenant_id).create(
            operation_id=operation_id,
            kind="deactivate",
            actor_id=uuid.uuid4(),
            workflow_id=workflow_id,
            rows=[NewRow(1, {"email": "secret@b.example"}, "done", None, uuid.uuid4())],
        )
    return workflow_id


async def test_another_tenants_report_is_not_found(user_api: UserApi) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    b_run = await _stored_operation(user_api, b)
    async with user_api.client(uuid.uuid4(), a, "owner") as admin_of_a:
        theirs = await admin_of_a.get(f"/users/bulk/{b_run}/report")
        as_csv = await admin_of_a.get(f"/users/bulk/{b_run}/report", params={"format": "csv"})
        unknown = await admin_of_a.get(f"/users/bulk/{bulk_user_operation_workflow_id('x')}/report")
    async with user_api.client(uuid.uuid4(), b, "owner") as admin_of_b:
        own = await admin_of_b.get(f"/users/bulk/{b_run}/report")
    assert theirs.status_code == as_csv.status_code == unknown.status_code == 404
    assert theirs.json()["detail"] == unknown.json()["detail"]
    assert "secret@b.example" not in theirs.text + as_csv.text
    assert own.status_code == 200 and own.json()["rows"][0]["email"] == "secret@b.example"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/users/bulk/" + "x" * 5000 + "/report", {}),
        ("/users/bulk/abc/report", {"format": "xlsx"}),
        ("/users/bulk/%ff%fe/report", {}),
    ],
)
async def test_bad_report_requests(user_api: UserApi, path: str, params: dict[str, str]) -> None:
    async with user_api.client(uuid.uuid4(), uuid.uuid4(), "owner") as client:
        answer: httpx.Response = await client.get(path, params=params)
    assert 400 <= answer.status_code < 500
    assert answer.headers["content-type"] == PROBLEM


@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
async def test_other_methods_on_the_upload_are_405(user_api: UserApi, method: str) -> None:
    async with user_api.client(uuid.uuid4(), uuid.uuid4(), "owner") as client:
        answer = await client.request(method, "/users/bulk/operations")
    assert answer.status_code == 405
    assert answer.headers["content-type"] == PROBLEM
