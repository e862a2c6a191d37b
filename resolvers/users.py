"""User operations. Routing (rule: a mutation starts a workflow only when it spans services or
steps):

- queries (``user``, ``users``, and ``me``'s ``profile`` and ``preferences``) call the user
  service directly, through the request's DataLoaders where a list can repeat them; the user
  service decides who sees whom (oneself; ``users.read`` for the members of the active tenant);
- ``updateProfile`` and ``updatePreferences`` are the user service's own writes (one row in one
  transaction), direct;
- ``deactivateUser`` and ``reactivateUser`` span services (the profile, auth's logins and
  sessions, the memberships in the tenant service, the files): the user service's route checks
  the caller and starts ``user_deactivation``, and the answer is its ``WorkflowRun`` (with the
  run's access token, for ``workflowProgress``).
- ``bulkUserOperation`` spans services (each row is a child run: ``user_onboarding``,
  ``membership_change``, ``user_deactivation``): forwarded to the user service's
  ``POST /users/bulk/operations``, which stores the rows and starts ``bulk_user_operation``; its report
  (``bulkUserOperationReport``) is a query, direct. Its input is checked here first (one of
  ``csv`` and ``rows``, at most the service's bytes and rows, a run id of the right shape).

Ids are checked here before they become part of a path (``checked_id``), so a hostile one is a
``BAD_USER_INPUT`` that never reaches the service. The user service's refusals become GraphQL
errors by its row of ``REFUSALS`` (``gateway/service_clients.py``)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from resolvers.workflow_runs import started_run
from schema.bulk_users import BulkUserOperationInput, BulkUserOperationReport, report_of
from schema.errors import BAD_USER_INPUT, FORBIDDEN, UNAUTHENTICATED, UserFacingError
from schema.pagination import MAX_CURSOR, MAX_PAGE, PageInfo, check_first
from schema.users import (
    DirectoryConnection,
    DirectoryEdge,
    Preferences,
    UpdateProfileInput,
    UserProfile,
    checked_id,
    directory_member_of,
    preferences_of,
    profile_of,
)
from schema.workflow_runs import WorkflowRun
from services.common.settings import ServiceName
from services.common.tokens import InvalidTokenError
from services.user.schemas import (
    BulkReport,
    DirectoryPage,
    PreferencesOut,
    UserProfileOut,
    UserWorkflowStarted,
)
from workflows.user.bulk_contracts import MAX_BYTES, MAX_ROWS

if TYPE_CHECKING:
    from gateway.context import GatewayContext
    from gateway.service_clients import ServiceCall

#: The directory's longest search (``services/user/directory/routes.py``, ``SEARCH_MAX``).
SEARCH_MAX = 100
#: A profile field's longest raw value the user service reads (``services/user/schemas.py``);
#: longer ones are refused here without being sent (or echoed).
RAW_MAX = 1000
OTHER_TENANT = "your token is for another tenant (or none); switch to this tenant first"


def _users(info: strawberry.Info[GatewayContext]) -> ServiceCall:
    return info.context.service(ServiceName.user, signed_in=True)


async def _active_tenant(info: strawberry.Info[GatewayContext]) -> str | None:
    try:
        principal = await info.context.principal()
    except InvalidTokenError as error:
        raise UserFacingError(f"not authenticated: {error}", UNAUTHENTICATED) from error
    return principal.tenant_id


# -- queries -------------------------------------------------------------------------------------


async def resolve_user(
    info: strawberry.Info[GatewayContext], id: strawberry.ID
) -> UserProfile | None:
    """The whole profile where the user service shows it (oneself; a member of the active
    tenant with ``users.read``); anyone else is the same ``null`` as an unknown id."""
    user_id = checked_id(id, "user id")
    await _active_tenant(info)  # UNAUTHENTICATED before anything is sent
    row = await info.context.profiles.load(user_id)
    return None if row is None else profile_of(row)


async def resolve_users(
    info: strawberry.Info[GatewayContext],
    tenant_id: strawberry.ID,
    search: str | None = None,
    first: Annotated[int, strawberry.argument(description=f"1-{MAX_PAGE}")] = 50,
    after: str | None = None,
) -> DirectoryConnection:
    """The directory of ``tenantId``, which must be the caller's active tenant: any other id
    is ``FORBIDDEN`` (the same for a tenant of theirs and a stranger's, like ``tenant(id)``),
    and nothing is sent. Needs ``users.read`` there (the user service checks it)."""
    tenant = checked_id(tenant_id, "tenant id")
    check_first(first)
    if search is not None and not 0 < len(search) <= SEARCH_MAX:
        raise UserFacingError(f"search must be 1-{SEARCH_MAX} characters", BAD_USER_INPUT)
    if after is not None and not 0 < len(after) <= MAX_CURSOR:
        raise UserFacingError("after is not a cursor of this list", BAD_USER_INPUT)
    if await _active_tenant(info) != tenant:
        raise UserFacingError(OTHER_TENANT, FORBIDDEN)
    params: dict[str, Any] = {"first": first}
    if search is not None:
        params["search"] = search
    if after is not None:
        params["after"] = after
    page = await _users(info).call("GET", "/directory", params=params, response=DirectoryPage)
    edges = [DirectoryEdge(cursor="", node=directory_member_of(m)) for m in page.items]
    # The service's cursors are keyset cursors of a page's end: the last edge carries it.
    if edges and page.next_cursor is not None:
        edges[-1].cursor = page.next_cursor
    return DirectoryConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=page.next_cursor is not None, end_cursor=page.next_cursor),
    )


# -- mutations -----------------------------------------------------------------------------------


async def resolve_update_profile(
    info: strawberry.Info[GatewayContext], input: UpdateProfileInput
) -> UserProfile:
    """Direct: ``PATCH /users/me`` with the fields given (``null`` clears one)."""
    body: dict[str, Any] = {}
    for name, value in vars(input).items():
        if value is strawberry.UNSET:
            continue
        if isinstance(value, str) and len(value) > RAW_MAX:
            raise UserFacingError(f"{name} is too long", BAD_USER_INPUT)
        body[name] = value
    row = await _users(info).call("PATCH", "/users/me", json=body, response=UserProfileOut)
    info.context.my_profile.prime("me", row, force=True)
    return profile_of(row)


async def resolve_update_preferences(
    info: strawberry.Info[GatewayContext], input: JSON, tenant_id: strawberry.ID | None = None
) -> Preferences:
    """Direct: ``PUT`` of the whole document (it replaces what was stored), the user-level one
    or, with ``tenantId``, that tenant's (the active tenant only: the service answers
    ``FORBIDDEN`` for another). The user service validates it against its published schema and
    names each offending key in the error's message."""
    if not isinstance(input, dict):  # the service's own words, without a round trip
        raise UserFacingError("preferences are a JSON object", BAD_USER_INPUT)
    key = None if tenant_id is None else checked_id(tenant_id, "tenant id")
    path = "/users/me/preferences" if key is None else f"/users/me/tenants/{key}/preferences"
    row = await _users(info).call("PUT", path, json=input, response=PreferencesOut)
    info.context.my_preferences.prime(key, row, force=True)
    return preferences_of(row)


async def _started(
    info: strawberry.Info[GatewayContext],
    path: str,
    *,
    body: Any = None,
    params: dict[str, str] | None = None,
) -> WorkflowRun:
    """Forward a write whose route starts a workflow; answer its run (``started_run``)."""
    arguments = ["POST", path] if body is None and params is None else ["POST", path, params, body]
    return await started_run(
        info,
        ServiceName.user,
        "POST",
        path,
        body={} if body is None else body,
        params=params,
        response=UserWorkflowStarted,
        arguments=arguments,
    )


async def resolve_deactivate_user(
    info: strawberry.Info[GatewayContext], user_id: strawberry.ID
) -> WorkflowRun:
    return await _started(info, f"/users/{checked_id(user_id, 'user id')}/deactivate")


async def resolve_reactivate_user(
    info: strawberry.Info[GatewayContext], user_id: strawberry.ID
) -> WorkflowRun:
    return await _started(info, f"/users/{checked_id(user_id, 'user id')}/reactivate")


# --- bulk operations --------------------------------------------------------------------------

#: ``bulk_user_operation_workflow_id``: ``bulk-user-operation-<uuid>``.
RUN_ID = re.compile(
    r"bulk-user-operation-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)


def _body(input: BulkUserOperationInput) -> object:
    if (input.csv is None) == (input.rows is None):
        raise UserFacingError("give the rows as either csv or rows", BAD_USER_INPUT)
    if input.csv is not None:
        if len(input.csv) > MAX_BYTES:
            raise UserFacingError(f"csv holds at most {MAX_BYTES} characters", BAD_USER_INPUT)
        return {"csv": input.csv}
    if not isinstance(input.rows, list):
        raise UserFacingError("rows is a list of row objects", BAD_USER_INPUT)
    if len(input.rows) > MAX_ROWS:
        raise UserFacingError(f"at most {MAX_ROWS} rows", BAD_USER_INPUT)
    if len(json.dumps(input.rows)) > MAX_BYTES:
        raise UserFacingError(f"rows hold at most {MAX_BYTES} bytes", BAD_USER_INPUT)
    return input.rows


async def resolve_bulk_user_operation(
    info: strawberry.Info[GatewayContext], input: BulkUserOperationInput
) -> WorkflowRun:
    return await _started(
        info,
        "/users/bulk/operations",
        body=_body(input),
        params={"operation": input.operation.value},
    )


async def resolve_bulk_user_operation_report(
    info: strawberry.Info[GatewayContext], run_id: strawberry.ID
) -> BulkUserOperationReport:
    if not RUN_ID.fullmatch(str(run_id)):
        raise UserFacingError("not the id of a bulk operation's run", BAD_USER_INPUT)
    body = await info.context.service(ServiceName.user, signed_in=True).call(
        "GET", f"/users/bulk/{run_id}/report", response=BulkReport
    )
    return report_of(body)
