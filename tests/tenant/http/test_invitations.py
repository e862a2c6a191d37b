"""Invitation routes: tokens single-use, expiring and hashed at rest, resend kills the old link,
a second invite resends, the seat quota, the role rules, decline by token."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from storage.db import transaction
from storage.tenants.models import Invitation
from tests.tenant.http.tenant_api import TenantApi, seed_tenant


async def _rows(api: TenantApi, tenant_id: object) -> list[Invitation]:
    async with transaction(api.database, tenant_id) as db:  # type: ignore[arg-type]
        return list(await db.scalars(select(Invitation)))


async def test_invite_mail_token_hashed_and_single_use(tenant_api: TenantApi) -> None:
    t = await seed_tenant(tenant_api.database)
    async with tenant_api.client(t.owner, t.id) as client:
        created = await client.post(
            f"/tenants/{t.id}/invitations", json={"email": "New.Person@Example.com"}
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["email"] == "new.person@example.com" and body["role"] == "member"
        assert body["status"] == "pending"
        token = tenant_api.mailer.last_token("new.person@example.com")
        tenant_hex, secret = token.split(".")
        assert tenant_hex == t.id.hex
        [row] = await _rows(tenant_api, t.id)
        assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in row.token_hash and token not in repr(row.__dict__)
        listed = await client.get(f"/tenants/{t.id}/invitations")
        assert [i["id"] for i in listed.json()] == [body["id"]]
        assert "token" not in listed.text.lower()

        first = await client.post("/invitations/decline", json={"token": token})
        assert first.status_code == 204, first.text
        second = await client.post("/invitations/decline", json={"token": token})
        assert second.status_code == 404 and second.json()["code"] == "InvalidInvitation"
        declined = await client.get(f"/tenants/{t.id}/invitations", params={"status": "declined"})
        assert [i["status"] for i in declined.json()] == ["declined"]


async def test_second_invite_resends_and_old_link_dies(tenant_api: TenantApi) -> None:
    t = await seed_tenant(tenant_api.database)
    address = "twice@example.com"
    async with tenant_api.client(t.owner, t.id) as client:
        first = await client.post(f"/tenants/{t.id}/invitations", json={"email": address})
        old = tenant_api.mailer.last_token(address)
        again = await client.post(
            f"/tenants/{t.id}/invitations", json={"email": address, "role": "viewer"}
        )
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        assert again.json()["role"] == "viewer"
        newer = tenant_api.mailer.last_token(address)
        resent = await client.post(f"/tenants/{t.id}/invitations/{first.json()['id']}/resend")
        assert resent.status_code == 200, resent.text
        newest = tenant_api.mailer.last_token(address)
        assert len({old, newer, newest}) == 3
        assert len(await _rows(tenant_api, t.id)) == 1
        for dead in (old, newer):
            refused = await client.post("/invitations/decline", json={"token": dead})
            assert refused.status_code == 404
        assert (
            await client.post("/invitations/decline", json={"token": newest})
        ).status_code == 204


async def test_expired_and_tampered_tokens_are_refused(tenant_api: TenantApi) -> None:
    t = await seed_tenant(tenant_api.database)
    other = await seed_tenant(tenant_api.database)
    async with tenant_api.client(t.owner, t.id) as client:
        await client.post(f"/tenants/{t.id}/invitations", json={"email": "late@example.com"})
        token = tenant_api.mailer.last_token("late@example.com")
        # the same secret under another tenant's id finds nothing there
        moved = f"{other.id.hex}.{token.split('.')[1]}"
        assert (await client.post("/invitations/decline", json={"token": moved})).status_code == 404
        async with transaction(tenant_api.database, t.id) as db:
            await db.execute(
                update(Invitation).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        expired = await client.post("/invitations/decline", json={"token": token})
        assert expired.status_code == 404 and expired.json()["code"] == "InvalidInvitation"
        [row] = await _rows(tenant_api, t.id)
        assert row.status == "expired"
        for bad in ("x", "a" * 500, f"{t.id.hex}.short", 42, None):
            response = await client.post("/invitations/decline", json={"token": bad})
            assert response.status_code in (404, 422), response.text


async def test_seat_quota_counts_members_and_open_invitations(tenant_api: TenantApi) -> None:
    t = await seed_tenant(tenant_api.database, roles={"a": "member"}, seat_quota=3)
    async with tenant_api.client(t.owner, t.id) as client:
        ok = await client.post(f"/tenants/{t.id}/invitations", json={"email": "s1@example.com"})
        assert ok.status_code == 201
        full = await client.post(f"/tenants/{t.id}/invitations", json={"email": "s2@example.com"})
        assert full.status_code == 409 and full.json()["code"] == "SeatQuotaExceeded"
        # re-inviting the pending address takes no new seat
        again = await client.post(f"/tenants/{t.id}/invitations", json={"email": "s1@example.com"})
        assert again.status_code == 200
        revoked = await client.delete(f"/tenants/{t.id}/invitations/{ok.json()['id']}")
        assert revoked.status_code == 204
        assert (
            await client.post(f"/tenants/{t.id}/invitations/{ok.json()['id']}/resend")
        ).status_code == 409
        freed = await client.post(f"/tenants/{t.id}/invitations", json={"email": "s2@example.com"})
        assert freed.status_code == 201


async def test_invited_role_must_exist_and_stay_within_the_inviters(tenant_api: TenantApi) -> None:
    t = await seed_tenant(
        tenant_api.database,
        roles={"admin": "admin", "inviter": "inviter", "member": "member"},
        custom_roles={"inviter": ["members.invite"], "reader": ["files.read"]},
    )
    async with tenant_api.client(t.members["admin"], t.id) as client:
        unknown = await client.post(
            f"/tenants/{t.id}/invitations", json={"email": "u@example.com", "role": "nope-role"}
        )
        assert unknown.status_code == 422 and unknown.json()["code"] == "UnknownRole"
        owner = await client.post(
            f"/tenants/{t.id}/invitations", json={"email": "u@example.com", "role": "owner"}
        )
        assert owner.status_code == 403 and owner.json()["code"] == "OwnerRequired"
    async with tenant_api.client(t.members["inviter"], t.id) as client:
        beyond = await client.post(
            f"/tenants/{t.id}/invitations", json={"email": "u@example.com", "role": "reader"}
        )
        assert beyond.status_code == 403 and beyond.json()["code"] == "GrantExceedsOwn"
    async with tenant_api.client(t.members["member"], t.id) as client:
        for response in (
            await client.post(f"/tenants/{t.id}/invitations", json={"email": "u@example.com"}),
            await client.get(f"/tenants/{t.id}/invitations"),
        ):
            assert response.status_code == 403 and "members.invite" in response.json()["detail"]
    assert await _rows(tenant_api, t.id) == []


async def test_mail_failure_writes_nothing(tenant_api: TenantApi) -> None:
    t = await seed_tenant(tenant_api.database)
    tenant_api.mailer.fail = True
    try:
        async with tenant_api.client(t.owner, t.id) as client:
            response = await client.post(
                f"/tenants/{t.id}/invitations", json={"email": "down@example.com"}
            )
    finally:
        tenant_api.mailer.fail = False
    assert response.status_code == 503, response.text
    assert await _rows(tenant_api, t.id) == []


async def test_bad_invitation_input(tenant_api: TenantApi) -> None:
    t = await seed_tenant(tenant_api.database)
    async with tenant_api.client(t.owner, t.id) as client:
        for body in (
            {"email": "not-an-address"},
            {"email": "a@b\x00c"},
            {"email": "x" * 300 + "@example.com"},
            {"email": "a@example.com", "role": "BAD ROLE"},
            {"email": ["a@example.com"]},
            {},
        ):
            response = await client.post(f"/tenants/{t.id}/invitations", json=body)
            assert response.status_code == 422, (body, response.text)
        assert (
            await client.get(f"/tenants/{t.id}/invitations", params={"status": "x"})
        ).status_code == 422
        assert (await client.delete(f"/tenants/{t.id}/invitations/not-a-uuid")).status_code == 422
    assert await _rows(tenant_api, t.id) == []
