"""Shared helpers of the bad-input tests: problem+json assertions and hostile request bodies."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

PROBLEM_FIELDS = {"type", "title", "status", "detail"}
JSON = {"content-type": "application/json"}


def assert_problem(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """A 4xx (one of ``statuses`` when given) rendered as RFC 9457 problem+json."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    if statuses:
        assert response.status_code in statuses, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert PROBLEM_FIELDS <= body.keys(), body
    assert body["status"] == response.status_code and body["detail"], body
    return body  # type: ignore[no-any-return]


def as_json(value: object) -> bytes:
    """JSON with non-ASCII escaped (``\\u0000``, ``\\ud800``): what any client may send."""
    return json.dumps(value).encode()


def oversize(limit: int, **fields: object) -> bytes:
    """A JSON object carrying ``fields`` (valid on their own) padded past the body limit."""
    body = json.dumps({**fields, "pad": ""}).encode()
    return body[:-2] + b"x" * (limit + 1 - len(body)) + b'"}'


def malformed(field: str, sample: str) -> list[Any]:
    """Bodies that are not a usable JSON object, shaped around one ``field``."""
    key = json.dumps(field).encode()
    value = json.dumps(sample).encode()
    return [
        pytest.param(b"{" + key + b": ", id="truncated"),
        pytest.param(b"{" + key + b": " + value + b",}", id="trailing-comma"),
        pytest.param(f"{{'{field}': '{sample}'}}".encode(), id="single-quotes"),
        pytest.param(b"\xff\xfe\x00\x01", id="not-utf8"),
        pytest.param(b"null", id="null"),
        pytest.param(b"[]", id="array"),
        pytest.param(value, id="string"),
        pytest.param(b"42", id="number"),
        pytest.param(b"[" * 200_000, id="deeply-nested"),
        pytest.param(b"{" + key + b": " + b"9" * 5000 + b"}", id="huge-integer"),
        pytest.param(b"{" + key + b": NaN}", id="nan"),
    ]
