"""Automatic persisted queries (the Apollo APQ protocol) stored in Redis, and the production
option of executing registered operations only.

A request may carry ``extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}``:

- with the hash only: the query stored under that hash is executed; an unknown hash answers
  ``PersistedQueryNotFound`` (``extensions.code`` ``PERSISTED_QUERY_NOT_FOUND``) and the
  client sends the query with the hash once more;
- with query and hash: the hash must be the query's SHA-256 (else
  ``PERSISTED_QUERY_HASH_MISMATCH``); the query is stored (``ADX_GRAPHQL_PERSISTED_QUERY_TTL_SECONDS``,
  renewed on each use) when it parses within the token limit, then executed. Storing is best
  effort: with Redis unreachable the query is executed all the same, while a hash alone cannot
  be looked up (a 503, like any Redis outage of the gateway).

``ADX_GRAPHQL_PERSISTED_QUERIES_ONLY=true`` executes only the operations of
``ADX_GRAPHQL_OPERATIONS_MANIFEST`` (a JSON list of query texts, or Apollo's persisted query
manifest ``{"operations": [{"body": ...}]}``), by hash or by full text; anything else answers
``PERSISTED_QUERY_NOT_ALLOWED`` and nothing new is stored."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError, parse
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from strawberry.http import GraphQLRequestData

from schema.errors import BAD_USER_INPUT, UserFacingError
from schema.limits import MAX_TOKENS
from services.common.logging import get_logger
from storage.redis import RedisKeys

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
PERSISTED_QUERY_NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"
#: The longest query text stored (a query within the token limit is far shorter).
MAX_STORED_BYTES = 64 * 1024
_HASH = re.compile(r"[0-9a-f]{64}")
_log = get_logger(__name__)


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def load_manifest(path: Path) -> dict[str, str]:
    """hash -> query of the registered operations in ``path``."""
    raw = json.loads(path.read_text())
    bodies = [op["body"] for op in raw["operations"]] if isinstance(raw, dict) else raw
    if not all(isinstance(body, str) for body in bodies):
        raise ValueError(f"{path}: the operations manifest must list query texts")
    return {sha256(body): body for body in bodies}


class PersistedQueries:
    def __init__(
        self,
        redis: Redis,
        keys: RedisKeys,
        ttl_seconds: int,
        *,
        registered_only: bool = False,
        manifest: dict[str, str] | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl = ttl_seconds
        self.registered_only = registered_only
        self.manifest = manifest or {}

    def _key(self, digest: str) -> str:
        return self.keys("apq", digest)

    async def resolve(self, data: GraphQLRequestData) -> None:
        """Fill in ``data.query`` from the persisted query the request names (and store a new
        one); raises the ``UserFacingError`` the client answers to."""
        extension: Any = (data.extensions or {}).get("persistedQuery")
        if extension is None:
            if self.registered_only and data.query is not None:
                if sha256(data.query) not in self.manifest:
                    raise _not_allowed()
            return
        if not isinstance(extension, dict) or extension.get("version") != 1:
            raise UserFacingError("Unsupported persisted query version", BAD_USER_INPUT)
        digest = extension.get("sha256Hash")
        if not isinstance(digest, str) or not _HASH.fullmatch(digest):
            raise UserFacingError(
                "persistedQuery.sha256Hash must be 64 lower-case hex digits", BAD_USER_INPUT
            )
        if data.query is None:
            data.query = await self._stored(digest)
            return
        if sha256(data.query) != digest:
            raise UserFacingError(
                "provided sha does not match query", PERSISTED_QUERY_HASH_MISMATCH
            )
        if self.registered_only:
            if digest not in self.manifest:
                raise _not_allowed()
            return
        if len(data.query.encode()) <= MAX_STORED_BYTES and _parses(data.query):
            await self._store(digest, data.query)

    async def _store(self, digest: str, query: str) -> None:
        """Best effort: the request carries its query, so a Redis outage only means the next
        request by hash alone is not found (then sent in full again), not that this one fails."""
        try:
            await self.redis.set(self._key(digest), query, ex=self.ttl)
        except (RedisConnectionError, RedisTimeoutError) as error:
            _log.warning("persisted_query_not_stored", error=repr(error))

    async def _stored(self, digest: str) -> str:
        query = self.manifest.get(digest)
        if query is None and not self.registered_only:
            stored = await self.redis.getex(self._key(digest), ex=self.ttl)
            query = stored.decode() if isinstance(stored, bytes) else stored
        if query is None:
            raise UserFacingError("PersistedQueryNotFound", PERSISTED_QUERY_NOT_FOUND)
        return query


def _parses(query: str) -> bool:
    try:
        parse(query, max_tokens=MAX_TOKENS)
    except (GraphQLSyntaxError, GraphQLError):
        return False
    return True


def _not_allowed() -> UserFacingError:
    return UserFacingError(
        "only registered operations are accepted here", PERSISTED_QUERY_NOT_ALLOWED
    )
