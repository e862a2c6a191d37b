"""TOTP (RFC 6238) secrets, otpauth URIs, and finding the time step a code belongs to."""

from __future__ import annotations

import hmac
import re
import time

import pyotp

ISSUER = "ADX CORE"
#: Steps either side of now still accepted, for clock drift (RFC 6238 section 5.2).
DRIFT_STEPS = 1
CODE = re.compile(r"[0-9]{6}")


def new_secret() -> str:
    """160 random bits in base32, the key length RFC 4226 recommends."""
    return pyotp.random_base32()


def otpauth_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def current_step(secret: str, at: float | None = None) -> int:
    return int((time.time() if at is None else at) // pyotp.TOTP(secret).interval)


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


def matching_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The (latest) step within the drift window whose code is ``code``, else None.

    Callers accept a code only if its step is newer than the last step used: that is what makes
    a code usable once, not merely valid for its 30 seconds.
    """
    if not CODE.fullmatch(code):
        return None
    now = current_step(secret, at)
    found = None
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        # Compare every candidate in constant time; no early exit that timing could reveal.
        if hmac.compare_digest(code_at(secret, step), code):
            found = step
    return found
