"""Password reset. It talks to the workflow the auth service owns (the reset token is spent
there, then the waiting workflow is updated), so the gateway forwards to the auth API rather than
duplicating that logic."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from services.common.settings import ServiceName

if TYPE_CHECKING:
    from gateway.context import GatewayContext


async def resolve_request_password_reset(info: strawberry.Info[GatewayContext], email: str) -> bool:
    """Always true: the answer never tells whether the address has an account."""
    await info.context.service(ServiceName.auth).send(
        "POST", "/auth/password-reset", json={"email": email}
    )
    return True


async def resolve_confirm_password_reset(
    info: strawberry.Info[GatewayContext], token: str, new_password: str
) -> bool:
    await info.context.service(ServiceName.auth).send(
        "POST", "/auth/password-reset/confirm", json={"token": token, "new_password": new_password}
    )
    return True
