"""The auth service's password hashing: the one implementation lives in
``services.common.passwords`` so the gateway can hash a sign-up's password at the edge without
importing auth runtime code; this module keeps the auth service's import path."""

from services.common.passwords import (
    CGROUP_CPU_MAX,
    burn_verify_time,
    hash_password,
    hasher,
    is_argon2id_hash,
    needs_rehash,
    usable_cpus,
    verify_password,
)

__all__ = [
    "CGROUP_CPU_MAX",
    "burn_verify_time",
    "hash_password",
    "hasher",
    "is_argon2id_hash",
    "needs_rehash",
    "usable_cpus",
    "verify_password",
]
