"""Domain routes against a real DNS server (dnslib): the right TXT token verifies, a wrong or
missing one does not, an unreachable name server is a clean 503; a verified domain belongs to
one tenant; auto-join is an owner's and needs a verified domain."""

from __future__ import annotations

import dataclasses

from services.tenant.service import SPEC
from tests.in_process import in_process_client
from tests.tenant.http.tenant_api import LocalDns, TenantApi, seed_tenant


async def _claim(client, tenant_id, domain: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    response = await client.post(f"/tenants/{tenant_id}/domains", json={"domain": domain})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_verify_with_the_right_txt_record(tenant_api: TenantApi, local_dns: LocalDns) -> None:
    t = await seed_tenant(tenant_api.database, roles={"member": "member"})
    domain = f"{t.slug}.example.com"
    async with tenant_api.client(t.owner, t.id) as client:
        claim = await _claim(client, t.id, domain.upper() + ".")
        assert claim["domain"] == domain and claim["status"] == "pending"
        assert claim["txt_record_name"] == f"_adx-verification.{domain}"

        missing = await client.post(f"/tenants/{t.id}/domains/{domain}/verify")
        assert missing.status_code == 409 and missing.json()["code"] == "DomainNotVerified"

        local_dns.resolver.records[f"_adx-verification.{domain}"] = ["adx-verification=wrong"]
        wrong = await client.post(f"/tenants/{t.id}/domains/{domain}/verify")
        assert wrong.status_code == 409 and "no matching" in wrong.json()["detail"]

        early = await client.put(
            f"/tenants/{t.id}/domains/{domain}/auto-join", json={"role": "member"}
        )
        assert early.status_code == 409 and early.json()["code"] == "DomainNotVerified"

        local_dns.resolver.records[f"_adx-verification.{domain}"] = [
            "v=spf1 -all",
            str(claim["txt_record_value"]),
        ]
        verified = await client.post(f"/tenants/{t.id}/domains/{domain}/verify")
        assert verified.status_code == 200, verified.text
        assert verified.json()["status"] == "verified" and verified.json()["verified_at"]

        auto = await client.put(
            f"/tenants/{t.id}/domains/{domain}/auto-join", json={"role": "member"}
        )
        assert auto.status_code == 200 and auto.json()["auto_join_role"] == "member"
        as_owner = await client.put(
            f"/tenants/{t.id}/domains/{domain}/auto-join", json={"role": "owner"}
        )
        assert as_owner.status_code == 422
        listed = await client.get(f"/tenants/{t.id}/domains")
        assert [d["domain"] for d in listed.json()] == [domain]
    async with tenant_api.client(t.members["member"], t.id) as client:
        for response in (
            await client.get(f"/tenants/{t.id}/domains"),
            await client.post(f"/tenants/{t.id}/domains", json={"domain": "x.example.org"}),
            await client.post(f"/tenants/{t.id}/domains/{domain}/verify"),
            await client.delete(f"/tenants/{t.id}/domains/{domain}"),
        ):
            assert response.status_code == 403 and "domains.manage" in response.json()["detail"]
    async with tenant_api.client(t.owner, t.id) as client:
        assert (await client.delete(f"/tenants/{t.id}/domains/{domain}")).status_code == 204
        assert (await client.get(f"/tenants/{t.id}/domains")).json() == []


async def test_a_verified_domain_belongs_to_one_tenant(
    tenant_api: TenantApi, local_dns: LocalDns
) -> None:
    a = await seed_tenant(tenant_api.database)
    b = await seed_tenant(tenant_api.database)
    domain = f"shared-{a.slug}.example.net"
    async with tenant_api.client(a.owner, a.id) as client:
        claim_a = await _claim(client, a.id, domain)
    async with tenant_api.client(b.owner, b.id) as client:
        claim_b = await _claim(client, b.id, domain)
    local_dns.resolver.records[f"_adx-verification.{domain}"] = [
        str(claim_a["txt_record_value"]),
        str(claim_b["txt_record_value"]),
    ]
    async with tenant_api.client(a.owner, a.id) as client:
        assert (await client.post(f"/tenants/{a.id}/domains/{domain}/verify")).status_code == 200
    async with tenant_api.client(b.owner, b.id) as client:
        taken = await client.post(f"/tenants/{b.id}/domains/{domain}/verify")
        assert taken.status_code == 409 and taken.json()["code"] == "DomainTaken"
        assert (await client.get(f"/tenants/{b.id}/domains")).json()[0]["status"] == "pending"


async def test_auto_join_is_for_owners(tenant_api: TenantApi) -> None:
    t = await seed_tenant(tenant_api.database, roles={"admin": "admin"})
    async with tenant_api.client(t.members["admin"], t.id) as client:
        await _claim(client, t.id, f"{t.slug}.example.org")
        refused = await client.put(
            f"/tenants/{t.id}/domains/{t.slug}.example.org/auto-join", json={"role": "member"}
        )
    assert refused.status_code == 403 and refused.json()["code"] == "OwnerRequired"


async def test_unreachable_name_server_is_a_clean_503(
    tenant_api: TenantApi, dead_nameserver: str
) -> None:
    local = tenant_api.resources.settings.model_copy(
        update={"tenant_dns_nameservers": dead_nameserver, "tenant_dns_timeout_seconds": 0.5}
    )
    app = SPEC.build_app(dataclasses.replace(tenant_api.resources, settings=local))
    t = await seed_tenant(tenant_api.database)
    domain = f"{t.slug}.example.com"
    async with tenant_api.client(t.owner, t.id) as client:
        await _claim(client, t.id, domain)
        token = client.headers["authorization"]
    async with in_process_client(app) as client:
        response = await client.post(
            f"/tenants/{t.id}/domains/{domain}/verify", headers={"authorization": token}
        )
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_bad_domain_input(tenant_api: TenantApi) -> None:
    t = await seed_tenant(tenant_api.database)
    async with tenant_api.client(t.owner, t.id) as client:
        for value in (
            "",
            "localhost",
            "no_underscores.com",
            "-dash.com",
            "a..b.com",
            "1.2.3.4",
            "x" * 64 + ".com",
            ("a" * 60 + ".") * 5 + "com",
            "ex ample.com",
            "bad\x00.com",
            42,
        ):
            response = await client.post(f"/tenants/{t.id}/domains", json={"domain": value})
            assert response.status_code == 422, (value, response.text)
        idn = await client.post(f"/tenants/{t.id}/domains", json={"domain": "Bücher.example"})
        assert idn.status_code == 201 and idn.json()["domain"] == "xn--bcher-kva.example"
        again = await client.post(f"/tenants/{t.id}/domains", json={"domain": "bücher.example"})
        assert again.status_code == 409
        assert (await client.post(f"/tenants/{t.id}/domains/bad_domain/verify")).status_code == 422
        assert (
            await client.delete(f"/tenants/{t.id}/domains/unclaimed.example")
        ).status_code == 404
        bad_role = await client.put(
            f"/tenants/{t.id}/domains/xn--bcher-kva.example/auto-join", json={"role": 7}
        )
        assert bad_role.status_code == 422
