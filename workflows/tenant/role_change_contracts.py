"""Activity contracts of ``role_change`` (a custom role created or deleted by an identity
provider over SCIM, docs/users.md): the tenant's role row (``tenant.create_role``,
``tenant.delete_role``) and the user service's record that SCIM knows the role
(``user.sync_scim_group``). Inputs carry ids and role names only, no personal data."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from workflows.common.contracts import ActivityContract
from workflows.tenant.contracts import TENANT
from workflows.user.contracts import USER


class RoleChangeKind(StrEnum):
    """What a ``role_change`` run does (stable: histories and ids carry it)."""

    CREATE = "create"
    DELETE = "delete"


#: The description of a role an identity provider created (its admins may change it).
SCIM_ROLE_DESCRIPTION = "Created by the tenant's identity provider (SCIM)"


@dataclass
class CreateRoleInput:
    tenant_id: str
    actor_id: str
    name: str
    idempotency_key: str
    description: str = SCIM_ROLE_DESCRIPTION
    #: None: the permissions of ``member`` (a Group says nothing of permissions).
    permissions: list[str] | None = None


@dataclass
class CreateRoleOutput:
    name: str
    #: False when this key's role was created by an earlier attempt (answered from its record).
    created: bool
    permissions: list[str] = field(default_factory=list)


CREATE_ROLE = ActivityContract("tenant.create_role", TENANT, CreateRoleInput, CreateRoleOutput)


@dataclass
class DeleteRoleInput:
    tenant_id: str
    actor_id: str
    name: str
    idempotency_key: str


@dataclass
class DeleteRoleOutput:
    name: str
    #: False: there was no such custom role (deleted already).
    deleted: bool
    description: str = ""
    permissions: list[str] = field(default_factory=list)


DELETE_ROLE = ActivityContract("tenant.delete_role", TENANT, DeleteRoleInput, DeleteRoleOutput)


@dataclass
class SyncScimGroupInput:
    tenant_id: str
    role: str
    #: True: SCIM knows the role (with this ``external_id``); False: it forgets it.
    present: bool
    idempotency_key: str
    external_id: str | None = None


@dataclass
class SyncScimGroupOutput:
    changed: bool


SYNC_SCIM_GROUP = ActivityContract(
    "user.sync_scim_group", USER, SyncScimGroupInput, SyncScimGroupOutput
)
