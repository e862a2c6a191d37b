"""A squatter who created an account through SSO with someone else's (unverified) address loses
the link when the real owner proves the mailbox with a password reset."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from temporalio.testing import ActivityEnvironment

from services.auth.accounts.activities import AccountActivities
from services.auth.passwords import hash_password
from services.auth.runtime import AuthRuntime
from services.common.security_context import SecurityContext, acting_as
from storage.auth.models import SsoIdentity
from storage.db import transaction
from tests.auth.users import create_user
from workflows.auth.contracts import SetPasswordInput


async def links(runtime: AuthRuntime, user_id: uuid.UUID) -> int:
    async with transaction(runtime.resources.database) as db:
        return int(
            await db.scalar(
                select(func.count()).select_from(SsoIdentity).where(SsoIdentity.user_id == user_id)
            )
        )


@acting_as(SecurityContext.system("test"))
async def reset(runtime: AuthRuntime, user_id: uuid.UUID) -> None:
    await ActivityEnvironment().run(
        AccountActivities(runtime).set_password,
        SetPasswordInput(
            str(user_id),
            await hash_password("the owner's new password"),
            "password_reset",
            f"reset:{uuid.uuid4()}",
        ),
    )


async def link(runtime: AuthRuntime, user_id: uuid.UUID) -> None:
    async with transaction(runtime.resources.database) as db:
        db.add(SsoIdentity(issuer="https://idp", subject=uuid.uuid4().hex, user_id=user_id))


async def test_reset_of_unverified_account_removes_sso_links(auth_runtime: AuthRuntime) -> None:
    squatted = await create_user(auth_runtime, verified=False)
    await link(auth_runtime, squatted.id)

    await reset(auth_runtime, squatted.id)

    assert await links(auth_runtime, squatted.id) == 0


async def test_reset_of_verified_account_keeps_its_sso_links(auth_runtime: AuthRuntime) -> None:
    owner = await create_user(auth_runtime, verified=True)
    await link(auth_runtime, owner.id)

    await reset(auth_runtime, owner.id)

    assert await links(auth_runtime, owner.id) == 1
