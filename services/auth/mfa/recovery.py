"""Recovery codes: 80 random bits each, shown once, stored as a SHA-256 bound to the user.

A fast hash is enough for codes this random; salting with the user id stops one precomputed
table from covering every account.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid

RECOVERY_CODE_COUNT = 10
_CODE_BYTES = 10  # 80 bits -> 16 base32 characters
_SEPARATORS = re.compile(r"[\s-]+")


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """``xxxx-xxxx-xxxx-xxxx`` codes (lower-case base32: no 0/1/8/9 to misread)."""
    codes = []
    for _ in range(count):
        raw = base64.b32encode(secrets.token_bytes(_CODE_BYTES)).decode().lower()
        codes.append("-".join(raw[i : i + 4] for i in range(0, len(raw), 4)))
    return codes


def normalize_recovery_code(code: str) -> str:
    """Users retype codes: case, spaces and dashes do not matter."""
    return _SEPARATORS.sub("", code).lower()


def hash_recovery_code(user_id: uuid.UUID, code: str) -> str:
    material = f"{user_id}:{normalize_recovery_code(code)}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(material).hexdigest()
