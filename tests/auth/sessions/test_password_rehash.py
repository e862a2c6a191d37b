"""Hashes made with weaker argon2id parameters are upgraded at the owner's next login."""

from __future__ import annotations

import httpx
from argon2 import PasswordHasher

from services.auth.passwords import hasher
from services.auth.runtime import AuthRuntime
from storage.auth.models import Credential
from storage.db import transaction
from tests.auth.users import create_user, login


async def test_login_rehashes_with_the_current_parameters(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(user.password)
    async with transaction(auth_runtime.resources.database) as db:
        (await db.get(Credential, user.id)).password_hash = weak  # type: ignore[union-attr]

    await login(auth_client, user)

    async with transaction(auth_runtime.resources.database) as db:
        stored = (await db.get(Credential, user.id)).password_hash  # type: ignore[union-attr]
    assert stored != weak and not hasher.check_needs_rehash(stored)
    assert f"m={hasher.memory_cost},t={hasher.time_cost},p={hasher.parallelism}" in stored
    assert hasher.verify(stored, user.password)
