"""File sharing. Routing (rule: a mutation starts a workflow only when it spans services or
steps):

- ``shares(fileId)`` calls the file service directly (``GET /files/{id}/shares``): an editor of
  the file (owner, an editor share, or ``files.share`` with read access) sees its shares;
- ``shareFile`` starts ``file_sharing`` (tenant + file services: the grantee checked and mailed,
  the expiry timer) through the file service's ``POST /files/{id}/shares``, which checks the
  caller and hashes a link's password first; answered as the run (``WorkflowRun``);
- ``revokeShare`` is the file service's own write, direct (``DELETE
  /files/{id}/shares/{shareId}``): one ``UPDATE``, in force at once; the service then tells the
  waiting run.

The input is checked here by the route's own ``ShareRequest`` first, so a hostile one is a
``BAD_USER_INPUT`` that never reaches the service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import strawberry
from pydantic import ValidationError

from resolvers.workflow_runs import started_run
from schema.errors import refused_input
from schema.file_shares import FileShare, ShareFileInput, share_of
from schema.tenants import uuid_arg
from schema.workflow_runs import WorkflowRun
from services.common.settings import ServiceName
from services.file.schemas import ShareList, ShareRequest, ShareStarted

if TYPE_CHECKING:
    from gateway.context import GatewayContext
    from gateway.service_clients import ServiceCall


def _files(info: strawberry.Info[GatewayContext]) -> ServiceCall:
    return info.context.service(ServiceName.file, signed_in=True)


def _request(input: ShareFileInput) -> dict[str, Any]:
    try:
        return ShareRequest.model_validate(
            {
                "kind": input.kind.value,
                "grantee": input.grantee,
                "permission": input.permission.value,
                "expires_in_seconds": input.expires_in_seconds,
                "password": input.password,
                "recipients": input.recipients or [],
            }
        ).model_dump(mode="json", exclude_none=True)
    except ValidationError as error:
        raise refused_input(error, "share", "the kind and its fields") from None


async def resolve_shares(
    info: strawberry.Info[GatewayContext], file_id: strawberry.ID
) -> list[FileShare]:
    path = f"/files/{uuid_arg(file_id, 'file id')}/shares"
    listed = await _files(info).call("GET", path, response=ShareList)
    return [share_of(row) for row in listed.shares]


async def resolve_share_file(
    info: strawberry.Info[GatewayContext], input: ShareFileInput
) -> WorkflowRun:
    path = f"/files/{uuid_arg(input.file_id, 'file id')}/shares"
    body = _request(input)

    return await started_run(info, ServiceName.file, "POST", path, body=body, response=ShareStarted)


async def resolve_revoke_share(
    info: strawberry.Info[GatewayContext], file_id: strawberry.ID, share_id: strawberry.ID
) -> bool:
    path = f"/files/{uuid_arg(file_id, 'file id')}/shares/{uuid_arg(share_id, 'share id')}"
    await _files(info).send("DELETE", path)
    return True
