"""Auth activities (task queue ``<prefix>-auth``); each write is idempotent on its key."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from email_validator import EmailNotValidError, validate_email
from temporalio import activity

from services.auth.passwords import hash_password
from services.auth.runtime import AuthRuntime
from storage.auth.repository import CredentialRepository
from storage.db import transaction
from workflows.auth.contracts import (
    CREATE_CREDENTIALS,
    DELETE_CREDENTIALS,
    CreateCredentialsInput,
    CreateCredentialsOutput,
    DeleteCredentialsInput,
    DeleteCredentialsOutput,
)
from workflows.auth.password_policy import PasswordPolicyError, check_policy
from workflows.common.errors import EMAIL_TAKEN, INVALID_INPUT, business_error


def normalize_email(raw: str) -> str:
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise business_error(INVALID_INPUT, f"invalid e-mail address: {error}") from error


class AuthActivities:
    def __init__(self, runtime: AuthRuntime) -> None:
        self.runtime = runtime
        self.sessions = runtime.resources.sessions

    @activity.defn(name=CREATE_CREDENTIALS)
    async def create_credentials(self, input: CreateCredentialsInput) -> CreateCredentialsOutput:
        email = normalize_email(input.email)
        try:
            check_policy(input.password)
        except PasswordPolicyError as error:
            raise business_error(INVALID_INPUT, str(error)) from error
        password_hash = await hash_password(input.password)
        async with transaction(self.sessions) as session:
            outcome = await CredentialRepository(session).create(
                id_=uuid.UUID(input.user_id),
                email=email,
                password_hash=password_hash,
                idempotency_key=input.idempotency_key,
            )
        if outcome.conflict:
            raise business_error(EMAIL_TAKEN, "this e-mail address is already registered")
        return CreateCredentialsOutput(user_id=input.user_id, created=outcome.created)

    @activity.defn(name=DELETE_CREDENTIALS)
    async def delete_credentials(self, input: DeleteCredentialsInput) -> DeleteCredentialsOutput:
        async with transaction(self.sessions) as session:
            deleted = await CredentialRepository(session).delete_unverified(
                uuid.UUID(input.user_id)
            )
        return DeleteCredentialsOutput(deleted=deleted)

    def all(self) -> list[Callable[..., Any]]:
        return [self.create_credentials, self.delete_credentials]
