"""Activity contracts of the user service (task queue ``<prefix>-user``)."""

from __future__ import annotations

from dataclasses import dataclass

CREATE_PROFILE = "user.create_profile"


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


DELETE_PROFILE = "user.delete_profile"


@dataclass
class DeleteProfileInput:
    user_id: str
    idempotency_key: str


@dataclass
class DeleteProfileOutput:
    #: False when there was nothing to delete (already gone: a retried step).
    deleted: bool
