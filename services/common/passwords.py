"""Password hashing: argon2id at or above OWASP's minimum (19 MiB, t=2, p=1), off the event loop.

Pure (argon2-cffi and a thread pool, no service runtime): the auth service verifies and rehashes
with it, and every sign-up entry point (the gateway's ``signUp``, ``POST /auth/register``)
hashes the new password with it before a workflow exists, so no plaintext password ever enters a
workflow payload."""

from __future__ import annotations

import asyncio
import math
import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import Type

#: Raising these rehashes every password transparently at its owner's next login.
hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


#: cgroup v2's CPU limit of this container ("max 100000", or "<quota> <period>").
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cpus(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The CPUs this process may use: those it may run on, capped by a container CPU limit
    (a pod limited to 1 CPU on a 16-core node sees 16 cores in ``os.cpu_count()``)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 limit readable: the affinity is the limit
    return max(1, cpus)


#: One hashing thread per usable CPU: more only makes hashes contend for the CPU (and for
#: memory, 19 MiB each) and, in a container, burn its CPU quota in bursts.
_pool = ThreadPoolExecutor(max_workers=usable_cpus(), thread_name_prefix="argon2")


async def _run(function, *args):  # type: ignore[no-untyped-def]
    return await asyncio.get_running_loop().run_in_executor(_pool, function, *args)


async def hash_password(password: str) -> str:
    return await _run(hasher.hash, password)  # type: ignore[no-any-return]


async def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return await _run(hasher.verify, password_hash, password)  # type: ignore[no-any-return]
    except (VerificationError, InvalidHashError):
        return False


def is_argon2id_hash(value: str) -> bool:
    """Whether ``value`` is a well-formed argon2id hash (PHC string) at or above the configured
    parameters: what an activity re-checks before storing a hash someone else computed."""
    try:
        parameters = extract_parameters(value)
    except (InvalidHashError, ValueError):
        return False
    return (
        parameters.type is Type.ID
        and parameters.memory_cost >= hasher.memory_cost
        and parameters.time_cost >= hasher.time_cost
        and parameters.parallelism >= 1
        and parameters.salt_len >= 16
        and parameters.hash_len >= 16
    )


def needs_rehash(password_hash: str) -> bool:
    return hasher.check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hasher.hash("dummy password used to equalise timing")


async def burn_verify_time(password: str) -> None:
    """Spend the time of a real verification, so an unknown e-mail answers like a known one."""
    await verify_password(_dummy_hash(), password)
