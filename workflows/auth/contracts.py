"""Activity contracts of the auth service (task queue ``<prefix>-auth``)."""

from __future__ import annotations

from dataclasses import dataclass

CREATE_CREDENTIALS = "auth.create_credentials"
DELETE_CREDENTIALS = "auth.delete_credentials"


@dataclass
class CreateCredentialsInput:
    user_id: str
    email: str
    password: str
    idempotency_key: str


@dataclass
class CreateCredentialsOutput:
    user_id: str
    created: bool


@dataclass
class DeleteCredentialsInput:
    user_id: str
    idempotency_key: str


@dataclass
class DeleteCredentialsOutput:
    deleted: bool
