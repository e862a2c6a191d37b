"""Ed25519 signing keys of the auth service: the active key signs, retired keys stay published
in the JWKS until every token they signed has expired.

The JWKS is served at ``/.well-known/jwks.json`` (the gateway's source) and published into
Redis at start-up and every minute (``JwksPublisher``): the other services verify tokens from
there, without calling the auth service (DESIGN.md section 2)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis

from services.common.dev_secrets import load_or_create, require_development, write_private
from services.common.errors import BACKEND_UNAVAILABLE
from services.common.logging import get_logger
from services.common.settings import Settings
from services.common.tokens import JWKS_PUBLISH_INTERVAL_SECONDS, publish_jwks
from storage.redis import RedisKeys

DEV_KEY_FILE = "auth-signing-keys.json"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey
    retired_at: datetime | None = None

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(OKPAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "alg": "EdDSA", "use": "sig"}

    def to_json(self) -> dict[str, Any]:
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "kid": self.kid,
            "private_key_pem": pem,
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SigningKey:
        key = serialization.load_pem_private_key(data["private_key_pem"].encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"signing key {data.get('kid')!r} is not an Ed25519 key")
        retired = data.get("retired_at")
        return cls(
            kid=str(data["kid"]),
            private_key=key,
            retired_at=datetime.fromisoformat(retired) if retired else None,
        )


def generate_key() -> SigningKey:
    kid = f"{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"
    return SigningKey(kid=kid, private_key=Ed25519PrivateKey.generate())


class KeyRing:
    def __init__(self, keys: list[SigningKey], access_ttl: timedelta) -> None:
        active = [k for k in keys if k.retired_at is None]
        if not active:
            raise ValueError("no active signing key (every key is retired)")
        self.active = active[-1]
        self.keys = keys
        self.access_ttl = access_ttl

    def published(self, now: datetime | None = None) -> list[SigningKey]:
        """Active keys plus retired ones that may still have live tokens out there."""
        now = now or datetime.now(UTC)
        return [
            k
            for k in self.keys
            if k.retired_at is None or k.retired_at + self.access_ttl + timedelta(minutes=1) > now
        ]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self.published()]}

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        ttl = timedelta(seconds=settings.auth_access_token_seconds)
        if settings.auth_signing_keys is not None:
            raw = json.loads(settings.auth_signing_keys.get_secret_value())
            return cls([SigningKey.from_json(item) for item in raw], ttl)
        require_development(settings, "ADX_AUTH_SIGNING_KEYS")
        return cls(load_or_create_dev_keys(settings.data_dir / "keys"), ttl)


def load_or_create_dev_keys(directory: Path) -> list[SigningKey]:
    """Development keys in ``directory`` (mode 0600), created on first use."""
    raw = load_or_create(directory / DEV_KEY_FILE, lambda: [generate_key().to_json()])
    return [SigningKey.from_json(item) for item in raw]


def rotate_dev_keys(directory: Path, now: datetime | None = None) -> SigningKey:
    """Retire the active development key and make a new one active."""
    now = now or datetime.now(UTC)
    keys = load_or_create_dev_keys(directory)
    retired = [SigningKey(k.kid, k.private_key, k.retired_at or now) for k in keys]
    new = generate_key()
    write_private(directory / DEV_KEY_FILE, [k.to_json() for k in [*retired, new]])
    return new


#: Retry sooner than the regular interval while Redis is unreachable.
PUBLISH_RETRY_SECONDS = 5.0
_log = get_logger(__name__)


class JwksPublisher:
    """Publishes this process's JWKS into Redis now and every ``JWKS_PUBLISH_INTERVAL_SECONDS``
    (a restarted Redis, or a retired key leaving the set, is caught up within a minute).

    Every auth process publishes under its own id; readers merge the fresh documents, so
    replicas running different key sets during a rotation never hide each other's keys."""

    def __init__(self, ring: KeyRing, redis: Redis, keys: RedisKeys) -> None:
        self.ring = ring
        self.redis = redis
        self.keys = keys
        self.publisher = f"auth-{secrets.token_hex(6)}"

    async def publish(self) -> None:
        await publish_jwks(self.redis, self.keys, self.publisher, self.ring.jwks())

    async def _try_publish(self) -> bool:
        try:
            await self.publish()
        except BACKEND_UNAVAILABLE as error:
            _log.warning("jwks_publication_failed", error_type=type(error).__name__)
            return False
        return True

    async def run(self, ok: bool = True) -> None:
        while True:
            await asyncio.sleep(JWKS_PUBLISH_INTERVAL_SECONDS if ok else PUBLISH_RETRY_SECONDS)
            ok = await self._try_publish()

    @contextlib.asynccontextmanager
    async def running(self, *_: object) -> AsyncIterator[None]:
        """A lifespan: published before the first request is served, then kept fresh."""
        ok = await self._try_publish()
        task = asyncio.create_task(self.run(ok), name="jwks-publisher")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def key_created_at(kid: str) -> datetime | None:
    """The creation day a key id carries (``generate_key``: ``YYYYMMDD-<hex>``), else None."""
    try:
        return datetime.strptime(kid[:8], "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return None


class SigningKeyMetrics(Collector):
    """The active signing key's age (from its id's day) and the published key count, for the
    rotation alert (deploy/monitoring/rules)."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    def collect(self) -> Iterator[Metric]:
        age = GaugeMetricFamily(
            "adx_auth_signing_key_age_seconds",
            "Age of the active JWT signing key, from the day in its key id.",
            labels=["kid"],
        )
        created = key_created_at(self.ring.active.kid)
        if created is not None:
            seconds = (datetime.now(UTC) - created).total_seconds()
            age.add_metric([self.ring.active.kid], max(seconds, 0.0))
        published = GaugeMetricFamily(
            "adx_auth_signing_keys_published", "Signing keys in the published JWKS."
        )
        published.add_metric([], len(self.ring.published()))
        yield from (age, published)
