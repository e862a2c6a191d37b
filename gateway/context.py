"""Per-request GraphQL context: shared clients plus DataLoaders created for this request only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection, Request
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext
from temporalio.client import Client

from gateway.apq import PersistedQueries
from gateway.auth import authorization_from
from gateway.idempotency import HEADER, Idempotency, checked_key
from gateway.loaders import (
    MAX_USER_BATCH,
    MemberPageKey,
    load_member_pages,
    load_my_preferences,
    load_my_profile,
    load_profiles,
    load_users,
)
from gateway.progress_relay import ProgressRelay
from gateway.run_access import RunAccess
from gateway.service_clients import Caller, ServiceCall, ServiceClients
from gateway.subscriptions import SubscriptionLeases
from schema.errors import UNAUTHENTICATED, UserFacingError
from services.common.client_ip import client_ip
from services.common.settings import ServiceName, Settings
from services.common.tokens import InvalidTokenError, Principal, TokenVerifier, bearer_token
from services.tenant.schemas import MemberPage
from services.user.schemas import PreferencesOut, ProfileOut, UserProfileOut

if TYPE_CHECKING:
    from gateway.rate_limit import RateLimiter


@dataclass
class GatewayState:
    """Long-lived pieces of the gateway process, stored on ``app.state.gateway``."""

    settings: Settings
    temporal: Client
    services: ServiceClients
    relay: ProgressRelay
    verifier: TokenVerifier
    run_access: RunAccess
    rate_limiter: RateLimiter
    idempotency: Idempotency
    persisted_queries: PersistedQueries
    subscriptions: SubscriptionLeases


class GatewayContext(BaseContext):
    def __init__(self, state: GatewayState) -> None:
        super().__init__()
        self.state = state
        self.fresh_loaders()
        self._principal: Principal | None = None
        self._principal_error: Exception | None = None

    def fresh_loaders(self) -> None:
        """Loaders for one operation (``FreshLoaders`` calls this as each operation starts, so a
        WebSocket connection's later operations never see an earlier one's cached answers), each
        calling as this request's caller; ``signed_in`` raises "sign in first" inside the batch,
        so every field that needed it fails with UNAUTHENTICATED and nothing is sent."""
        self.users: DataLoader[str, ProfileOut | None] = DataLoader(
            load_fn=lambda ids: load_users(self.service(ServiceName.user, signed_in=True), ids),
            max_batch_size=MAX_USER_BATCH,
        )
        self.profiles: DataLoader[str, UserProfileOut | None] = DataLoader(
            load_fn=lambda ids: load_profiles(self.service(ServiceName.user, signed_in=True), ids)
        )
        self.my_profile: DataLoader[str, UserProfileOut] = DataLoader(
            load_fn=lambda keys: load_my_profile(
                self.service(ServiceName.user, signed_in=True), keys
            )
        )
        self.my_preferences: DataLoader[str | None, PreferencesOut] = DataLoader(
            load_fn=lambda keys: load_my_preferences(
                self.service(ServiceName.user, signed_in=True), keys
            )
        )
        self.member_pages: DataLoader[MemberPageKey, MemberPage] = DataLoader(
            load_fn=lambda keys: load_member_pages(
                self.service(ServiceName.tenant, signed_in=True), keys
            )
        )

    @property
    def authorization(self) -> str | None:
        headers = getattr(self.request, "headers", None)
        return authorization_from(self.connection_params, headers)

    def service(self, name: ServiceName, *, signed_in: bool = False) -> ServiceCall:
        """Calls to service ``name`` for this request's caller: their address always, their
        token when ``signed_in`` (required then: "sign in first" before any call is made)."""
        if not signed_in:
            return self.state.services.of(name, Caller(client_ip=self.client_ip))
        if not self.authorization:
            raise UserFacingError("sign in first", UNAUTHENTICATED)
        caller = Caller(client_ip=self.client_ip, authorization=self.authorization)
        return self.state.services.of(name, caller)

    async def started_once(
        self, info: Any, arguments: Any, start: Callable[[], Awaitable[str]]
    ) -> str:
        """The id of the workflow this mutation field starts: ``start()`` answers it, once per
        ``Idempotency-Key`` (gateway/idempotency.py); without the header, every call starts."""
        headers = getattr(self.request, "headers", None)
        key = checked_key(headers.get(HEADER) if headers is not None else None)
        if key is None:
            return await start()
        principal = await self.optional_principal()
        return await self.state.idempotency.workflow_id(
            scope=f"user:{principal.user_id}" if principal else "anonymous",
            key=key,
            field=f"{info.field_name}@{info.path.key}",
            arguments=arguments,
            start=start,
        )

    @property
    def client_ip(self) -> str | None:
        """The caller's address (X-Forwarded-For believed only from ``ADX_TRUSTED_PROXIES``)."""
        if not isinstance(self.request, HTTPConnection):
            return None
        return client_ip(self.request, self.state.settings.trusted_proxies)

    async def principal(self) -> Principal:
        """The verified caller; raises ``InvalidTokenError`` when there is none. Verified once
        per request: a failure is kept too, so a request whose token cannot be checked (Redis
        stalled) waits for that once, not once per resolver and once more for the limiter (a
        WebSocket context lives as long as its connection: it keeps no failure)."""
        if self._principal is None:
            if self._principal_error is not None:
                raise self._principal_error
            try:
                self._principal = await self.state.verifier.verify(bearer_token(self.authorization))
            except Exception as error:
                if isinstance(self.request, Request):  # not a WebSocket: lives for one request
                    self._principal_error = error
                raise
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
