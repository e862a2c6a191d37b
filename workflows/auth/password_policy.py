"""The password policy (NIST 800-63B / ASVS 5): 8-128 characters, no composition rules, the
most common passwords refused. Shared so the gateway can reject early with the same words."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

MIN_LENGTH = 8
MAX_LENGTH = 128
RECOMMENDED_LENGTH = 15
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common_passwords.txt"


class PasswordPolicyError(ValueError):
    pass


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text().splitlines()
    return frozenset(line.lower() for line in lines if line and not line.startswith("#"))


def check_policy(password: str) -> None:
    """Raise ``PasswordPolicyError`` with a message a form can show."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise PasswordPolicyError(
            f"password must be {MIN_LENGTH}-{MAX_LENGTH} characters "
            f"({RECOMMENDED_LENGTH} or more recommended)"
        )
    if password.lower() in common_passwords():
        raise PasswordPolicyError("this password is too common; choose another one")
