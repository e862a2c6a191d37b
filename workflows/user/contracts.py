"""Contracts of the user domain: its business error types and the typed contracts of its
activities (task queue ``<prefix>-user``), and the names of its workflows (``UserWorkflow``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from workflows.common.contracts import ActivityContract

USER = "user"


class UserWorkflow:
    """Workflow type names of the user service, as histories record them (never renamed)."""

    USER_DEACTIVATION: Final = "user_deactivation"
    USER_PROFILE_SYNC: Final = "user_profile_sync"
    BULK_USER_OPERATION: Final = "bulk_user_operation"


class UserError(StrEnum):
    """Stable ``ApplicationError.type`` values of the user service's business failures."""

    INVALID_INPUT = "InvalidInput"
    #: No such user, or one the caller may not see (the same answer, so ids cannot be probed).
    USER_NOT_FOUND = "UserNotFound"
    #: A token for another tenant, a missing permission, a member the caller may not change.
    PERMISSION_DENIED = "PermissionDenied"
    #: Preferences the published JSON Schema refuses (the message names the key).
    INVALID_PREFERENCES = "InvalidPreferences"
    #: A deactivation or reactivation the rules refuse (oneself, a member of other tenants
    #: without being an operator, a profile not in the state the change starts from).
    ACCOUNT_CHANGE_REFUSED = "AccountChangeRefused"


@dataclass
class CreateProfileInput:
    user_id: str
    email: str
    display_name: str
    idempotency_key: str


@dataclass
class CreateProfileOutput:
    user_id: str
    created: bool


CREATE_PROFILE = ActivityContract(
    "user.create_profile", USER, CreateProfileInput, CreateProfileOutput
)


@dataclass
class DeleteProfileInput:
    user_id: str
    idempotency_key: str


@dataclass
class DeleteProfileOutput:
    #: False when there was nothing to delete (already gone: a retried step).
    deleted: bool


DELETE_PROFILE = ActivityContract(
    "user.delete_profile", USER, DeleteProfileInput, DeleteProfileOutput
)
