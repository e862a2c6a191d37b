"""Per-request GraphQL context: shared clients plus DataLoaders created for this request only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext
from temporalio.client import Client

from gateway.auth import authorization_from
from gateway.progress_relay import ProgressRelay
from gateway.run_access import RunAccess
from gateway.service_clients import ServiceClients
from services.common.settings import Settings
from services.common.tokens import InvalidTokenError, Principal, TokenVerifier, bearer_token


@dataclass
class GatewayState:
    """Long-lived pieces of the gateway process, stored on ``app.state.gateway``."""

    settings: Settings
    temporal: Client
    services: ServiceClients
    relay: ProgressRelay
    verifier: TokenVerifier
    run_access: RunAccess


class GatewayContext(BaseContext):
    def __init__(self, state: GatewayState) -> None:
        super().__init__()
        self.state = state
        from resolvers.users import load_users

        self.users: DataLoader[str, dict[str, Any] | None] = DataLoader(
            load_fn=lambda ids: load_users(state.services, ids)
        )
        self._principal: Principal | None = None

    @property
    def authorization(self) -> str | None:
        headers = getattr(self.request, "headers", None)
        return authorization_from(self.connection_params, headers)

    @property
    def client_ip(self) -> str | None:
        client = getattr(self.request, "client", None)
        return client.host if client else None

    async def principal(self) -> Principal:
        """The verified caller; raises ``InvalidTokenError`` when there is none."""
        if self._principal is None:
            self._principal = await self.state.verifier.verify(bearer_token(self.authorization))
        return self._principal

    async def optional_principal(self) -> Principal | None:
        if not self.authorization:
            return None
        try:
            return await self.principal()
        except InvalidTokenError:
            return None


async def get_context(connection: HTTPConnection) -> GatewayContext:
    return GatewayContext(connection.app.state.gateway)
