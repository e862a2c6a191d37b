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

import graphql
import httpx
import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

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


#: The gateway's documented error codes that say "the server failed" (docs/gateway.md, *Error
#: codes*): a fuzzed GraphQL request may be refused with any other documented code, never these.
GRAPHQL_SERVER_FAILURES = frozenset({"INTERNAL_SERVER_ERROR"})


def _is_graphql(case: schemathesis.Case) -> bool:
    from schemathesis.specs.graphql.schemas import GraphQLSchema

    return isinstance(case.operation.schema, GraphQLSchema)


@schemathesis.check
def graphql_no_server_failure(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """For the GraphQL run (tests/platform/test_schemathesis.py): no 5xx, and no error that is
    unclassified or classified as the server's own failure. Schemathesis' ``not_a_server_error``
    counts every resolver error (``FORBIDDEN``, ``NOT_FOUND``, a service's ``QUOTA_EXCEEDED``)
    as a server error, so the GraphQL run replaces it with this check; OpenAPI runs skip it."""
    if not _is_graphql(case):
        return None
    assert response.status_code < 500, f"HTTP {response.status_code}: {response.text[:500]}"
    try:
        payload = response.json()
    except ValueError as exc:
        raise AssertionError(f"not JSON: {response.text[:500]}") from exc
    for error in payload.get("errors") or []:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        if not isinstance(code, str):
            # graphql-core's own validation and parse errors carry no code and no path.
            assert "path" not in error, f"unclassified resolver error: {error}"
            continue
        assert code not in GRAPHQL_SERVER_FAILURES, f"server failure: {error}"
    return None


def _json_node(depth: int = 3) -> st.SearchStrategy[graphql.ValueNode]:
    """Any JSON value as a GraphQL literal (the ``JSON`` scalar: preferences documents)."""
    leaves: st.SearchStrategy[graphql.ValueNode] = st.one_of(
        st.just(nodes.Null),
        st.booleans().map(nodes.Boolean),
        st.integers(-(2**40), 2**40).map(nodes.Int),
        st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
        st.text(max_size=40).map(nodes.String),
    )
    if depth == 0:
        return leaves
    inner = _json_node(depth - 1)
    return st.one_of(
        leaves,
        st.lists(inner, max_size=4).map(nodes.List),
        st.dictionaries(st.from_regex(r"\A[a-z_]{1,12}\Z"), inner, max_size=4).map(
            lambda fields: nodes.Object(
                [
                    graphql.ObjectFieldNode(name=graphql.NameNode(value=key), value=value)
                    for key, value in fields.items()
                ]
            )
        ),
    )


schemathesis.graphql.scalar("JSON", _json_node())
