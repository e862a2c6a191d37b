"""Everything the auth service builds once per process, shared by its routes and activities."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client

from services.auth.reset_limits import ResetRequestLimits
from services.auth.sessions import SessionService
from services.auth.signing_keys import KeyRing
from services.auth.throttle import Throttle
from services.auth.token_issuer import TokenIssuer
from services.common.codec import PayloadKeys
from services.common.feature import ActivitiesFactory
from services.common.resources import Resources
from services.common.settings import Settings
from services.common.temporal import with_rpc_deadline
from services.common.tokens import TokenVerifier
from storage.encrypted import configure_field_keys


@dataclass
class AuthRuntime:
    resources: Resources
    settings: Settings
    keys: KeyRing
    issuer: TokenIssuer
    verifier: TokenVerifier
    sessions: SessionService
    throttle: Throttle
    reset_limits: ResetRequestLimits
    #: Temporal for request paths: calls give up after ``ADX_TEMPORAL_RPC_DEADLINE_SECONDS`` so
    #: an unreachable cluster is a prompt 503 (the worker keeps the SDK's patient client).
    temporal: Client

    @classmethod
    def build(cls, resources: Resources) -> AuthRuntime:
        settings = resources.settings
        configure_field_keys(PayloadKeys.from_settings(settings))
        ring = KeyRing.from_settings(settings)
        issuer = TokenIssuer(ring, settings)
        return cls(
            resources=resources,
            settings=settings,
            keys=ring,
            issuer=issuer,
            verifier=issuer.verifier(resources.redis, resources.redis_keys),
            sessions=SessionService(
                resources.database, issuer, resources.redis, resources.redis_keys, settings
            ),
            throttle=Throttle(
                resources.redis,
                resources.redis_keys,
                settings.auth_login_free_attempts,
                settings.auth_login_max_delay_seconds,
            ),
            reset_limits=ResetRequestLimits.build(resources),
            temporal=with_rpc_deadline(resources.temporal, settings.temporal_rpc_deadline_seconds),
        )


def runtime_for(resources: Resources) -> AuthRuntime:
    """One runtime per process resources (routes and activities share it)."""
    runtime = resources.extensions.get("auth")
    if runtime is None:
        runtime = resources.extensions["auth"] = AuthRuntime.build(resources)
    return runtime  # type: ignore[no-any-return]


def with_runtime(
    build: Callable[[AuthRuntime], Sequence[Callable[..., Any]]],
) -> ActivitiesFactory:
    """A feature's activities factory from one over the process's auth runtime."""
    return lambda resources: build(runtime_for(resources))
