"""Changing a user's second factor directly (one service's own write): turning MFA off and
replacing the recovery codes. Either change ends every other session of the user in the same
transaction (ASVS 5.0 7.4.3), keeping only the session that made it."""

from __future__ import annotations

import uuid

from services.auth.mfa.recovery import hash_recovery_code, new_recovery_codes
from services.auth.runtime import AuthRuntime
from services.common.errors import ConflictError
from storage.auth.audit import AuditRepository
from storage.auth.mfa import RecoveryCodeRepository, TotpSecretRepository
from storage.auth.models import Credential
from storage.auth.repository import CredentialRepository
from storage.db import transaction

MFA_NOT_ENABLED = "MFA is not enabled"


async def disable_mfa(
    runtime: AuthRuntime, user_id: uuid.UUID, *, session_id: uuid.UUID, ip: str | None, method: str
) -> None:
    async with transaction(runtime.resources.database) as db:
        # The credential row lock serialises setup, enabling, disabling and regenerating.
        await db.get(Credential, user_id, with_for_update=True)
        await TotpSecretRepository(db).delete(user_id)
        await RecoveryCodeRepository(db).delete_all(user_id)
        await CredentialRepository(db).set_mfa_enabled(user_id, False)
        await AuditRepository(db).record(
            "mfa.disabled", user_id=user_id, session_id=session_id, ip=ip, method=method
        )
        revoked = await runtime.sessions.revoke_all_in(
            db, user_id, "mfa_disabled", keep=session_id, ip=ip
        )
    await runtime.sessions.deny(*revoked)


async def regenerate_recovery_codes(
    runtime: AuthRuntime, user_id: uuid.UUID, *, session_id: uuid.UUID, ip: str | None
) -> list[str]:
    """A fresh set replaces every old code (used or not) at once; the new codes are returned
    once and only their hashes stored."""
    codes = new_recovery_codes()
    hashes = [hash_recovery_code(user_id, code) for code in codes]
    async with transaction(runtime.resources.database) as db:
        credential = await db.get(Credential, user_id, with_for_update=True)
        # Checked again under the lock: MFA may have been turned off since the code was checked.
        if credential is None or not credential.mfa_enabled:
            raise ConflictError(MFA_NOT_ENABLED)
        await RecoveryCodeRepository(db).replace(user_id, hashes)
        await AuditRepository(db).record(
            "mfa.recovery_codes_regenerated",
            user_id=user_id,
            session_id=session_id,
            ip=ip,
            count=len(codes),
        )
        revoked = await runtime.sessions.revoke_all_in(
            db, user_id, "recovery_codes_regenerated", keep=session_id, ip=ip
        )
    await runtime.sessions.deny(*revoked)
    return codes
