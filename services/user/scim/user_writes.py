"""SCIM writes of ``Users`` (RFC 7644 3.3, 3.5, 3.6), as an identity provider provisions:

- ``POST /Users``: a person landed in the token's tenant by ``user_onboarding`` (an account in
  auth if there is none, the membership, the profile and directory entry); 201 with the User.
  A ``userName`` (address) of a member already is a 409 ``uniqueness``; a POST retried while
  the first runs joins that run (one key per tenant and address): never a second person.
- ``PUT /Users/{id}``: the whole User; ``PATCH /Users/{id}``: a PatchOp (add, replace, remove,
  with value paths such as ``emails[type eq "work"].value``; ``scim2-models`` applies it).
  Profile fields (names, title, locale, time zone, phone) are this service's rows: written
  directly, after the rules passed, with SCIM's record of the member (``externalId``, unique in
  the tenant, and the attributes without a platform field: ``extras.py``). ``active`` false
  starts ``user_deactivation``, true its reactivation, and the answer waits for it.
- ``DELETE /Users/{id}``: the person removed from the token's tenant (``membership_change``
  REMOVE); the account stays (it may belong to other tenants); 204.

The target is looked up first (an id of another tenant is a 404, like an unknown one, whatever
the body), then everything is checked before anything is written: a refused value writes
nothing."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from scim2_models import Context, User

from services.common.app import ResourcesDep
from services.common.resources import Resources
from services.user.profiles.changes import save_profile
from services.user.scim import provisioning, resources
from services.user.scim.bodies import apply_patch, json_body, patch_op, resource
from services.user.scim.credentials import ScimWriter, ScimWriterDep
from services.user.scim.errors import (
    ScimJSONResponse,
    ScimRoute,
    not_found,
    responses,
    uniqueness,
)
from services.user.scim.routes import base_url, one_answer, user_uuid
from services.user.scim.user_changes import (
    ScimRecord,
    UserChange,
    checked_profile,
    profile_fields,
    refuse_owner_change,
    scim_record,
    sign_in_address,
    user_change,
)
from storage.db import DbSession
from storage.users.directory import DirectoryRepository
from storage.users.scim_directory import ScimUsers
from storage.users.scim_records import ExternalIdTakenError, ScimUserRecords
from workflows.onboarding.contracts import UserOnboardingInput
from workflows.tenant.membership_contracts import MembershipChangeKind

router = APIRouter(
    prefix=resources.BASE_PATH,
    tags=["scim"],
    route_class=ScimRoute,
    default_response_class=ScimJSONResponse,
    responses=responses(400, 401, 403, 404, 413, 503),
)
#: The role a provisioned person gets (Groups change it).
DEFAULT_ROLE = "member"
EXTERNAL_ID_TAKEN = "another member of this tenant has this externalId"


async def refuse_taken_external_id(
    db: DbSession, writer: ScimWriter, record: ScimRecord, user_id: uuid.UUID | None
) -> None:
    if record.external_id is None:
        return
    holder = await ScimUserRecords(db, writer.tenant_id).holder_of(record.external_id)
    if holder is not None and holder != user_id:
        raise uniqueness(EXTERNAL_ID_TAKEN)


async def current_user(request: Request, writer: ScimWriter, user_id: uuid.UUID) -> User:
    async with writer.transaction() as db:
        row = await ScimUsers(db, writer.tenant_id).one(user_id)
    if row is None:
        raise not_found(f"no user {user_id}")
    return resources.user_resource(base_url(request), writer.tenant_id, *row)


async def _answer(request: Request, writer: ScimWriter, user_id: uuid.UUID) -> JSONResponse:
    return one_answer(await current_user(request, writer, user_id), request)


async def _apply(
    resources_: Resources, writer: ScimWriter, user_id: uuid.UUID, change: UserChange
) -> None:
    """The change: the issuer may make it (``provisioning.acting``; an owner only by an
    owner), then ``active`` (a workflow, which may refuse: then nothing else was written),
    then the profile."""
    context = await provisioning.acting(writer)
    async with writer.transaction() as db:
        target = await DirectoryRepository(db, writer.tenant_id).entry(user_id)
        if change.record is not None:
            await refuse_taken_external_id(db, writer, change.record, user_id)
    if target is None:
        raise not_found(f"no user {user_id}")
    refuse_owner_change(target.role, context.roles)
    if change.active is not None:
        await provisioning.set_active(resources_, writer, user_id, change.active)
    if change.profile or change.record is not None:
        try:
            async with writer.transaction() as db:
                if change.record is not None:
                    await ScimUserRecords(db, writer.tenant_id).save(
                        user_id, change.record.external_id, change.record.attributes
                    )
                if change.profile:
                    # Saved with the record, then carried to the other services' copies
                    # (``user_profile_sync``).
                    await save_profile(db, resources_, user_id, change.profile)
        except ExternalIdTakenError:  # the externalId taken meanwhile (the unique index decides)
            raise uniqueness(EXTERNAL_ID_TAKEN) from None


@router.put("/Users/{user_id}", operation_id="scim_put_users_one")
async def replace_user(
    request: Request, user_id: str, writer: ScimWriterDep, resources_: ResourcesDep
) -> JSONResponse:
    target = user_uuid(user_id)
    current = await current_user(request, writer, target)
    wanted = resource(User, await json_body(request), Context.RESOURCE_REPLACEMENT_REQUEST)
    await _apply(resources_, writer, target, user_change(current, wanted))
    return await _answer(request, writer, target)


@router.patch("/Users/{user_id}", operation_id="scim_patch_users_one")
async def patch_user(
    request: Request, user_id: str, writer: ScimWriterDep, resources_: ResourcesDep
) -> JSONResponse:
    target = user_uuid(user_id)
    current = await current_user(request, writer, target)
    patch = patch_op(User, await json_body(request))
    await _apply(resources_, writer, target, user_change(current, apply_patch(patch, current)))
    return await _answer(request, writer, target)


@router.delete("/Users/{user_id}", status_code=204, operation_id="scim_delete_users_one")
async def delete_user(
    request: Request, user_id: str, writer: ScimWriterDep, resources_: ResourcesDep
) -> Response:
    target = user_uuid(user_id)
    await current_user(request, writer, target)
    await provisioning.change_membership(resources_, writer, target, MembershipChangeKind.REMOVE)
    async with writer.transaction() as db:  # SCIM's record of a member goes with the member
        await ScimUserRecords(db, writer.tenant_id).remove(target)
    return Response(status_code=204)


@router.post(
    "/Users",
    status_code=201,
    operation_id="scim_post_users",
    responses=responses(409),
)
async def create_user(
    request: Request, writer: ScimWriterDep, resources_: ResourcesDep
) -> JSONResponse:
    wanted = resource(User, await json_body(request), Context.RESOURCE_CREATION_REQUEST)
    email = sign_in_address(wanted)
    given = {k: v for k, v in profile_fields(wanted).items() if v is not None}
    profile = checked_profile(given) if given else {}
    record = scim_record(wanted)
    async with writer.transaction() as db:
        taken = await ScimUsers(db, writer.tenant_id).by_email(email)
        await refuse_taken_external_id(db, writer, record, None)
    if taken is not None:
        raise uniqueness("a member of this tenant has this address already")
    result = await provisioning.onboard(
        resources_,
        writer,
        UserOnboardingInput(
            tenant_id=str(writer.tenant_id),
            email=email,
            role=DEFAULT_ROLE,
            actor_id=str(writer.issuer_id),
            display_name=profile.get("display_name"),
            given_name=profile.get("given_name"),
            family_name=profile.get("family_name"),
            locale=profile.get("locale"),
            time_zone=profile.get("time_zone"),
            source="scim",
            external_id=wanted.external_id,
            idempotency_key=provisioning.onboarding_key(writer.tenant_id, email),
        ),
    )
    user_id = uuid.UUID(result.user_id)
    rest = {k: v for k, v in profile.items() if k in ("title", "phone")}
    await _apply(
        resources_,
        writer,
        user_id,
        UserChange(profile=rest, record=record if record != ScimRecord(None, {}) else None),
    )
    if wanted.active is False:
        await provisioning.set_active(resources_, writer, user_id, False)
    answer = await _answer(request, writer, user_id)
    answer.status_code = 201
    answer.headers["Location"] = f"{base_url(request)}/Users/{user_id}"
    return answer
