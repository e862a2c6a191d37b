"""TOTP seeds are encrypted at rest: the raw column never holds the seed, the ORM reads it back."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from services.auth.runtime import AuthRuntime
from storage.auth.mfa import TotpSecretRepository
from storage.auth.models import TotpSecret
from storage.db import transaction
from storage.encrypted import decrypt_field
from tests.auth.users import create_user

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


async def test_seed_is_stored_encrypted_and_read_back(auth_runtime: AuthRuntime) -> None:
    user = await create_user(auth_runtime)
    async with transaction(auth_runtime.resources.database) as db:
        await TotpSecretRepository(db).put_pending(user.id, SEED, f"test:{uuid.uuid4()}")

    async with transaction(auth_runtime.resources.database) as db:
        raw = await db.scalar(
            text("SELECT secret FROM auth.totp_secrets WHERE user_id = :u"), {"u": user.id}
        )
        through_orm = (await db.get(TotpSecret, user.id)).secret  # type: ignore[union-attr]

    assert SEED not in raw and raw.startswith("enc:")
    assert through_orm == SEED


def test_ciphertext_is_bound_to_its_column(auth_runtime: AuthRuntime) -> None:
    from storage.encrypted import encrypt_field

    sealed = encrypt_field(SEED, "auth.totp")
    with pytest.raises(Exception):  # noqa: B017 - AES-GCM InvalidTag
        decrypt_field(sealed, "another.column")
