"""Per-request GraphQL context: shared clients plus DataLoaders created for this request only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext
from temporalio.client import Client

from gateway.progress_relay import ProgressRelay
from gateway.service_clients import ServiceClients
from services.common.settings import Settings


@dataclass
class GatewayState:
    """Long-lived pieces of the gateway process, stored on ``app.state.gateway``."""

    settings: Settings
    temporal: Client
    services: ServiceClients
    relay: ProgressRelay


class GatewayContext(BaseContext):
    def __init__(self, state: GatewayState) -> None:
        super().__init__()
        self.state = state
        from resolvers.users import load_users

        self.users: DataLoader[str, dict[str, Any] | None] = DataLoader(
            load_fn=lambda ids: load_users(state.services, ids)
        )


async def get_context(connection: HTTPConnection) -> GatewayContext:
    return GatewayContext(connection.app.state.gateway)
