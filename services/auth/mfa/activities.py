"""MFA setup activities (task queue ``<prefix>-auth``); each write is idempotent on its key."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from services.auth.mfa.recovery import hash_recovery_code, new_recovery_codes
from services.auth.mfa.sealed import OTPAUTH_URI, RECOVERY_CODE, TOTP_CODE, TOTP_SECRET, MfaSeals
from services.auth.mfa.totp import matching_step, new_secret, otpauth_uri
from services.auth.runtime import AuthRuntime
from services.common.security_context import require_user_or_system
from storage.auth.audit import AuditRepository
from storage.auth.mfa import RecoveryCodeRepository, TotpSecretRepository
from storage.auth.models import Credential
from storage.auth.repository import CredentialRepository
from storage.db import transaction
from workflows.auth import mfa_contracts
from workflows.auth.contracts import AuthError
from workflows.common.errors import business_error


def _user_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except (ValueError, TypeError, AttributeError) as error:
        raise business_error(AuthError.INVALID_INPUT, "user_id is not a UUID") from error


class MfaActivities:
    def __init__(self, runtime: AuthRuntime) -> None:
        self.database = runtime.resources.database
        self.settings = runtime.settings

    @mfa_contracts.CREATE_TOTP_SECRET.implement
    async def create_totp_secret(
        self, input: mfa_contracts.CreateTotpSecretInput
    ) -> mfa_contracts.CreateTotpSecretOutput:
        user_id = _user_id(input.user_id)
        require_user_or_system(input.user_id)
        async with transaction(self.database) as db:
            # The credential row lock serialises setup, enabling and disabling for one user.
            credential = await db.get(Credential, user_id, with_for_update=True)
            if credential is None:
                raise business_error(AuthError.MFA_SETUP_NOT_FOUND, "no such user")
            if credential.mfa_enabled:
                raise business_error(AuthError.MFA_ALREADY_ENABLED, "MFA is already enabled")
            secrets = TotpSecretRepository(db)
            # MFA is off, so any stored secret is a leftover that may be replaced.
            created = await secrets.put_pending(user_id, new_secret(), input.idempotency_key)
            row = await secrets.get_fresh(user_id)
            assert row is not None
            if created:
                await AuditRepository(db).record("mfa.setup_started", user_id=user_id)
        # Sealed: the workflow hands them to the route, which opens them for the user only.
        seals = MfaSeals(self.settings, input.user_id)
        return mfa_contracts.CreateTotpSecretOutput(
            secret=seals.seal(TOTP_SECRET, row.secret),
            otpauth_uri=seals.seal(OTPAUTH_URI, otpauth_uri(row.secret, credential.email)),
            created=created,
        )

    @mfa_contracts.VERIFY_TOTP.implement
    async def verify_totp(
        self, input: mfa_contracts.VerifyTotpInput
    ) -> mfa_contracts.VerifyTotpOutput:
        """Read-only, so a retry can never turn a valid code into a 'replayed' one; the step is
        recorded as used by enable_mfa."""
        user_id = _user_id(input.user_id)
        require_user_or_system(input.user_id)
        async with transaction(self.database) as db:
            row = await TotpSecretRepository(db).get_fresh(user_id)
        if row is None or row.confirmed_at is not None or row.idempotency_key != input.setup_key:
            raise business_error(
                AuthError.MFA_SETUP_NOT_FOUND, "this MFA setup has no pending secret"
            )
        # The route seals the code before it enters the update; opened here only.
        code = MfaSeals(self.settings, input.user_id).open(TOTP_CODE, input.code)
        step = matching_step(row.secret, code)
        return mfa_contracts.VerifyTotpOutput(valid=step is not None, step=step)

    @mfa_contracts.ENABLE_MFA.implement
    async def enable_mfa(
        self, input: mfa_contracts.EnableMfaInput
    ) -> mfa_contracts.EnableMfaOutput:
        user_id = _user_id(input.user_id)
        require_user_or_system(input.user_id)
        codes = new_recovery_codes()
        async with transaction(self.database) as db:
            credential = await db.get(Credential, user_id, with_for_update=True)
            secrets = TotpSecretRepository(db)
            row = await secrets.get_fresh(user_id, lock=True)
            if credential is None or row is None:
                raise business_error(
                    AuthError.MFA_SETUP_NOT_FOUND, "the MFA secret no longer exists"
                )
            if row.idempotency_key != input.idempotency_key:
                if row.confirmed_at is not None or credential.mfa_enabled:
                    raise business_error(AuthError.MFA_ALREADY_ENABLED, "MFA is already enabled")
                if row.idempotency_key != input.setup_key:
                    raise business_error(
                        AuthError.MFA_SETUP_NOT_FOUND, "the MFA secret was replaced"
                    )
                await secrets.confirm(user_id, input.idempotency_key, input.step)
                await CredentialRepository(db).set_mfa_enabled(user_id, True)
                await AuditRepository(db).record("mfa.enabled", user_id=user_id)
            # On a retry the codes are replaced: only one attempt's result ever reaches the
            # workflow, so the codes of an attempt whose result was lost were never shown.
            await RecoveryCodeRepository(db).replace(
                user_id, [hash_recovery_code(user_id, code) for code in codes]
            )
        # Sealed one by one: the workflow returns them to the route, which opens them once.
        seals = MfaSeals(self.settings, input.user_id)
        return mfa_contracts.EnableMfaOutput(
            recovery_codes=[seals.seal(RECOVERY_CODE, code) for code in codes]
        )

    @mfa_contracts.DELETE_TOTP_SECRET.implement
    async def delete_totp_secret(
        self, input: mfa_contracts.DeleteTotpSecretInput
    ) -> mfa_contracts.DeleteTotpSecretOutput:
        user_id = _user_id(input.user_id)
        require_user_or_system(input.user_id)
        async with transaction(self.database) as db:
            deleted = await TotpSecretRepository(db).delete_pending(user_id, input.setup_key)
            if deleted:
                await AuditRepository(db).record(
                    "mfa.setup_failed", user_id=user_id, reason=input.reason
                )
        return mfa_contracts.DeleteTotpSecretOutput(deleted=deleted)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.create_totp_secret,
            self.verify_totp,
            self.enable_mfa,
            self.delete_totp_secret,
        ]
