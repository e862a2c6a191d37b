"""A tenant's e-mail domains over HTTP. Direct (no workflow): a claim, its DNS check and its
auto-join role are rows of this service's, each written in one transaction.

Adding, listing, verifying and removing need ``domains.manage``; letting users with a verified
address of the domain join on their own (auto-join) is an owner's decision. A verified domain
belongs to one tenant: verifying one another tenant verified first is ``DomainTaken`` (409).
DNS: ``verification``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from services.common.app import ResourcesDep
from services.common.errors import ConflictError, NotFoundError, ServiceUnavailableError
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.tenant_db import TenantDb
from services.tenant.access import check_assignable, require_owner, require_permission
from services.tenant.domains.verification import (
    DnsSettings,
    Outcome,
    check_txt,
    new_txt_token,
    record_name,
    record_value,
)
from services.tenant.errors import tenant_error
from services.tenant.schemas import AddDomainRequest, AutoJoinRequest, DomainName, DomainOut
from storage.db import DbSession
from storage.tenants.models import Domain, DomainStatus
from storage.tenants.repository import DomainRepository
from workflows.tenant.contracts import TenantError
from workflows.tenant.permissions import BuiltInRole, Permission

Responses = dict[int | str, dict[str, Any]]
router = APIRouter(prefix="/tenants/{tenant_id}/domains", tags=["domains"])

#: Claims per tenant (pending and verified).
MAX_DOMAINS = 20
DomainPath = Annotated[DomainName, Path()]

REFUSED: Responses = {
    403: problem_response(403, "A token for another tenant, or a missing permission"),
    404: problem_response(404, "No such tenant or domain, or the caller is not a member"),
}
WRITE_REFUSED: Responses = {
    **REFUSED,
    409: problem_response(409, "Claimed already, not verified, taken, or tenant inactive"),
}


def domain_out(row: Domain) -> DomainOut:
    return DomainOut(
        domain=row.domain,
        status=row.status,
        txt_record_name=record_name(row.domain),
        txt_record_value=record_value(row.txt_token),
        verified_at=row.verified_at,
        auto_join_role=row.auto_join_role,
    )


async def _claimed(db: DbSession, tenant_id: uuid.UUID, domain: str) -> Domain:
    row = await DomainRepository(db, tenant_id).by_name(domain)
    if row is None:
        raise NotFoundError(f"domain {domain} is not claimed by this tenant")
    return row


@router.post("", status_code=201, responses=WRITE_REFUSED)
async def add_domain(
    tenant_id: uuid.UUID, body: AddDomainRequest, principal: PrincipalDep, db: TenantDb
) -> DomainOut:
    """Claim a domain (``domains.manage``); publish the TXT record the answer names, then
    verify."""
    await require_permission(db, principal, tenant_id, Permission.DOMAINS_MANAGE)
    repository = DomainRepository(db, tenant_id)
    if await repository.count() >= MAX_DOMAINS:
        raise tenant_error(TenantError.INVALID_INPUT, f"a tenant claims at most {MAX_DOMAINS}")
    row = await repository.create(body.domain, new_txt_token())
    if row is None:
        raise ConflictError(f"this tenant has claimed {body.domain} already")
    return domain_out(row)


@router.get("", responses=REFUSED)
async def list_domains(
    tenant_id: uuid.UUID, principal: PrincipalDep, db: TenantDb
) -> list[DomainOut]:
    await require_permission(db, principal, tenant_id, Permission.DOMAINS_MANAGE, write=False)
    return [domain_out(row) for row in await DomainRepository(db, tenant_id).all()]


@router.post(
    "/{domain}/verify",
    responses={**WRITE_REFUSED, 503: problem_response(503, "No name server answered")},
)
async def verify_domain(
    tenant_id: uuid.UUID,
    domain: DomainPath,
    principal: PrincipalDep,
    db: TenantDb,
    resources: ResourcesDep,
) -> DomainOut:
    """Look the TXT record up now (``domains.manage``); verified once, it stays verified."""
    await require_permission(db, principal, tenant_id, Permission.DOMAINS_MANAGE)
    row = await _claimed(db, tenant_id, domain)
    if row.status == DomainStatus.VERIFIED.value:
        return domain_out(row)
    settings = resources.settings
    outcome = await check_txt(
        DnsSettings(settings.tenant_dns_servers, settings.tenant_dns_timeout_seconds),
        row.domain,
        row.txt_token,
    )
    if outcome is Outcome.UNAVAILABLE:
        raise ServiceUnavailableError("No name server answered in time; try again shortly.")
    if outcome is not Outcome.VERIFIED:
        found = "no TXT record" if outcome is Outcome.NOT_FOUND else "no matching TXT record"
        raise tenant_error(
            TenantError.DOMAIN_NOT_VERIFIED,
            f"{found} at {record_name(row.domain)}; publish {record_value(row.txt_token)!r}",
        )
    if not await DomainRepository(db, tenant_id).mark_verified(row, datetime.now(UTC)):
        raise tenant_error(TenantError.DOMAIN_TAKEN, f"{row.domain} is verified by another tenant")
    return domain_out(row)


@router.put("/{domain}/auto-join", responses=WRITE_REFUSED)
async def set_auto_join(
    tenant_id: uuid.UUID,
    domain: DomainPath,
    body: AutoJoinRequest,
    principal: PrincipalDep,
    db: TenantDb,
) -> DomainOut:
    """Let users with a verified address of this verified domain join with ``role`` (None:
    no more); owners only, and never as owner."""
    access = await require_owner(db, principal, tenant_id, "set a domain's auto-join role")
    row = await _claimed(db, tenant_id, domain)
    if body.role is not None:
        if row.status != DomainStatus.VERIFIED.value:
            raise tenant_error(TenantError.DOMAIN_NOT_VERIFIED, f"verify {row.domain} first")
        if body.role == BuiltInRole.OWNER.value:
            raise tenant_error(TenantError.INVALID_INPUT, "nobody joins as owner on their own")
        await check_assignable(db, access, body.role)
    return domain_out(await DomainRepository(db, tenant_id).set_auto_join(row, body.role))


@router.delete("/{domain}", status_code=204, responses=WRITE_REFUSED)
async def delete_domain(
    tenant_id: uuid.UUID, domain: DomainPath, principal: PrincipalDep, db: TenantDb
) -> Response:
    await require_permission(db, principal, tenant_id, Permission.DOMAINS_MANAGE)
    row = await _claimed(db, tenant_id, domain)
    await DomainRepository(db, tenant_id).remove(row)
    return Response(status_code=204)
