"""Contracts of the user service's own steps of ``user_deactivation``: who may (de)activate
whom, checked against the user service's rows before anything changes, and the profile's
status (``active`` / ``deactivated``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from workflows.common.contracts import ActivityContract
from workflows.user.contracts import USER


class AccountStatus(StrEnum):
    """A profile's status (storage's ``ProfileStatus``)."""

    ACTIVE = "active"
    DEACTIVATED = "deactivated"


@dataclass
class CheckAccountChangeInput:
    user_id: str
    #: The user who asks (the run's starter).
    actor_id: str
    #: The tenant the actor acts in (their token's); None for an operator.
    tenant_id: str | None
    #: ``AccountStatus``: the status asked for.
    status: str
    idempotency_key: str


@dataclass
class CheckAccountChangeOutput:
    #: The profile's status now.
    status: str
    #: The tenants whose directory lists the user (for the report).
    tenant_ids: list[str] = field(default_factory=list)


#: Read-only: refuses (``UserError``) a change the actor may not make.
CHECK_ACCOUNT_CHANGE = ActivityContract(
    "user.check_account_change", USER, CheckAccountChangeInput, CheckAccountChangeOutput
)


@dataclass
class SetProfileStatusInput:
    user_id: str
    #: ``AccountStatus``.
    status: str
    idempotency_key: str


@dataclass
class SetProfileStatusOutput:
    #: The status before (the compensation sets it back).
    previous: str
    changed: bool


SET_PROFILE_STATUS = ActivityContract(
    "user.set_profile_status", USER, SetProfileStatusInput, SetProfileStatusOutput
)
