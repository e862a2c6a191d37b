"""The addresses of accounts, read by other services' workflows through auth's
``auth.account_emails`` activity (auth owns e-mail addresses)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from storage.auth.models import Credential
from storage.db import DbSession


async def account_emails(
    db: DbSession, user_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, str, bool]]:
    """``(id, email, verified)`` of the accounts among ``user_ids`` (unknown ids left out)."""
    if not user_ids:
        return []
    rows = await db.execute(
        select(Credential.id, Credential.email, Credential.email_verified)
        .where(Credential.id.in_(list(user_ids)))
        .order_by(Credential.id)
    )
    return [(id_, email, verified) for id_, email, verified in rows.all()]
