"""The record of sign-ups per address that makes an address contested (``services/auth/
registration/contested.py``), against a real Redis: keyed on the address digest, idempotent on a
retried mail step, counting distinct runs within the verification window only."""

from __future__ import annotations

import time
import uuid

from redis.asyncio import Redis

from services.auth.registration.contested import (
    address_digest_of,
    is_contested,
    record_sign_up,
    signups_key,
)
from storage.redis import RedisKeys
from workflows.auth.contracts import address_digest
from workflows.auth.user_registration import new_registration_id

WINDOW = 48 * 3600.0


def _keys() -> RedisKeys:
    return RedisKeys(f"adxtest-contested-{uuid.uuid4().hex[:8]}")


async def test_one_sign_up_recorded_twice_is_not_contested(redis: Redis) -> None:
    keys, email = _keys(), f"alone-{uuid.uuid4().hex[:8]}@example.com"
    digest = address_digest(email)
    run = new_registration_id(email)
    assert address_digest_of(run) == digest

    await record_sign_up(redis, keys, digest, run, WINDOW)
    first = await redis.zscore(signups_key(keys, digest), run)
    await record_sign_up(redis, keys, digest, run, WINDOW)  # a retried mail step

    assert await redis.zscore(signups_key(keys, digest), run) == first
    assert await redis.zcard(signups_key(keys, digest)) == 1
    assert not await is_contested(redis, keys, digest, run, WINDOW)
    ttl = await redis.ttl(signups_key(keys, digest))
    assert 0 < ttl <= WINDOW
    assert email not in signups_key(keys, digest)


async def test_two_runs_for_one_address_contest_both(redis: Redis) -> None:
    keys, email = _keys(), f"two-{uuid.uuid4().hex[:8]}@example.com"
    digest = address_digest(email)
    first, second = new_registration_id(email), new_registration_id(email)
    other = new_registration_id(f"other-{uuid.uuid4().hex[:8]}@example.com")

    await record_sign_up(redis, keys, digest, first, WINDOW)
    await record_sign_up(redis, keys, address_digest_of(other) or "", other, WINDOW)
    assert not await is_contested(redis, keys, digest, first, WINDOW)
    await record_sign_up(redis, keys, digest, second, WINDOW)

    assert await is_contested(redis, keys, digest, first, WINDOW)
    assert await is_contested(redis, keys, digest, second, WINDOW)
    # A run not on record (say, started before this rule) is contested by any recorded one.
    assert await is_contested(redis, keys, digest, new_registration_id(email), WINDOW)


async def test_a_sign_up_older_than_the_window_does_not_contest(redis: Redis) -> None:
    keys, email = _keys(), f"old-{uuid.uuid4().hex[:8]}@example.com"
    digest = address_digest(email)
    old, new = new_registration_id(email), new_registration_id(email)
    await redis.zadd(signups_key(keys, digest), {old: time.time() - WINDOW - 60})

    await record_sign_up(redis, keys, digest, new, WINDOW)

    assert not await is_contested(redis, keys, digest, new, WINDOW)
    assert await redis.zscore(signups_key(keys, digest), old) is None  # trimmed on the way


def test_only_per_sign_up_run_ids_have_a_digest() -> None:
    email = "someone@example.com"
    assert address_digest_of(new_registration_id(email)) == address_digest(email)
    assert address_digest_of(f"user-registration-{address_digest(email)}") is None  # v2 id
    assert address_digest_of("password-reset-abc") is None
