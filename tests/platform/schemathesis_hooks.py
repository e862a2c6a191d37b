"""Schemathesis hooks for tests/platform/test_schemathesis.py (loaded by the CLI through
``SCHEMATHESIS_HOOKS``; configured by the environment the test gives the CLI):

- ``ADX_ST_AUTH_URL``, ``ADX_ST_EMAIL``, ``ADX_ST_PASSWORD``: a valid access token for every
  request, from a login at the auth service (refetched on a 401, e.g. after a generated logout
  ended the session, and every few seconds);
- ``ADX_ST_BEARER``: a fixed bearer token instead (the codec endpoint's operator token);
- every request claims its own client address (``X-Forwarded-For`` from 127.0.0.1, a trusted
  proxy), so the per-client login and reset throttles do not turn the run into 429s.

Schemathesis still sends requests without the token or with a broken one where the OpenAPI
document declares a security requirement (its ``ignored_auth`` check)."""

from __future__ import annotations

import os
import random
from typing import Any

import httpx
import schemathesis

_rng = random.Random(20261126)


def _client_ip() -> str:
    return f"10.{_rng.randrange(256)}.{_rng.randrange(256)}.{_rng.randrange(1, 255)}"


def _tests_the_authorization_header(case: schemathesis.Case) -> bool:
    """A case that leaves out or breaks a declared ``Authorization`` header on purpose."""
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    parameter = getattr(data, "parameter", None)
    return isinstance(parameter, str) and parameter.lower() == "authorization"


@schemathesis.hook
def before_call(context: Any, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    case.headers["X-Forwarded-For"] = _client_ip()


@schemathesis.auth(refresh_interval=5)
class AccessToken:
    def get(self, case: schemathesis.Case, context: Any) -> str | None:
        fixed = os.environ.get("ADX_ST_BEARER")
        if fixed:
            return fixed
        url = os.environ.get("ADX_ST_AUTH_URL")
        if not url:
            return None
        response = httpx.post(
            f"{url}/auth/login",
            json={"email": os.environ["ADX_ST_EMAIL"], "password": os.environ["ADX_ST_PASSWORD"]},
            headers={"X-Forwarded-For": _client_ip()},
            timeout=30,
        )
        response.raise_for_status()
        return str(response.json()["tokens"]["access_token"])

    def set(self, case: schemathesis.Case, data: str | None, context: Any) -> None:
        if data and not _tests_the_authorization_header(case):
            case.headers["Authorization"] = f"Bearer {data}"
