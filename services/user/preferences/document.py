"""The published preferences schema (``schema_v<N>.json``, JSON Schema 2020-12): loading it,
validating a document against one scope (``user`` or ``tenant``) with messages that name the
offending key, filling in its defaults, and bringing values stored under an older version to
the current one.

Versioning: a new version is a new file (``schema_v2.json``) and a step in :data:`UPGRADES`
from the one before (rename or drop keys); stored rows keep the version they were validated
against, and are upgraded when read and rewritten on the next ``PUT``.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from typing import Any, Final

from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from referencing import Registry, Resource

CURRENT_VERSION: Final = 1
#: A stored document's largest JSON text (the schema keeps real ones far smaller).
MAX_BYTES: Final = 16 * 1024
#: How many refusals one answer lists.
MAX_PROBLEMS: Final = 20
#: ``UPGRADES[n]`` turns version ``n`` values into version ``n + 1`` values.
UPGRADES: Final[Mapping[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {}


class Scope(StrEnum):
    USER = "user"
    TENANT = "tenant"


class PreferencesInvalid(ValueError):
    """The document breaks the schema; ``problems`` each name the key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems

    def issues(self) -> list[dict[str, Any]]:
        """As the problem+json ``errors`` of a validation failure (``ValidationIssue``)."""
        return [{"loc": ["body"], "msg": p, "type": "invalid_preferences"} for p in self.problems]


@lru_cache(maxsize=4)
def schema_document(version: int = CURRENT_VERSION) -> dict[str, Any]:
    text = resources.files(__package__).joinpath(f"schema_v{version}.json").read_text()
    document: dict[str, Any] = json.loads(text)
    Draft202012Validator.check_schema(document)
    return document


_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    """RFC 3339 date-time with its offset (jsonschema checks it only with an extra package)."""
    if not isinstance(value, str) or len(value) > 64 or "T" not in value.upper():
        return not isinstance(value, str)
    return datetime.fromisoformat(value.replace("z", "Z")).tzinfo is not None


@_FORMATS.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or (len(value) <= 64 and bool(uuid.UUID(value)))


@lru_cache(maxsize=4)
def _validator(scope: Scope) -> Draft202012Validator:
    document = schema_document()
    registry: Registry[Any] = Registry().with_resource(
        document["$id"], Resource.from_contents(document)
    )
    return Draft202012Validator(
        {"$ref": f"{document['$id']}#/$defs/{scope.value}"},
        registry=registry,
        # "format" is checked too (last_tenant: a uuid and a date-time): the published
        # schema says so, and a client trusting it must not get a value it does not meet.
        format_checker=_FORMATS,
    )


def openapi_schema(scope: Scope) -> dict[str, Any]:
    """The scope's schema with its references inlined, for the OpenAPI document."""
    document = schema_document()

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(document["$defs"][node["$ref"].rsplit("/", 1)[-1]])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    schema: dict[str, Any] = inline(document["$defs"][scope.value])
    return schema


def _key(path: Iterator[Any] | Any) -> str:
    parts = [str(p) if not isinstance(p, int) else f"[{p}]" for p in path]
    return ".".join(parts).replace(".[", "[") or "(the document)"


def _subschema(scope: Scope, path: list[Any]) -> dict[str, Any]:
    """The schema of the object at ``path`` (``$ref`` followed), for its known keys."""
    document = schema_document()
    node: dict[str, Any] = document["$defs"][scope.value]
    for part in path:
        if "$ref" in node:
            node = document["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        if isinstance(part, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(part, {})
    if "$ref" in node:
        node = document["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _problem(scope: Scope, error: ValidationError) -> list[str]:
    path = list(error.absolute_path)
    key = _key(path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(_subschema(scope, path).get("properties", {}))
        return [
            f"unknown key {_key([*path, name])!r}" for name in sorted(set(error.instance) - known)
        ]
    if error.validator == "type":
        return [f"{key} must be of type {error.validator_value}"]
    if error.validator == "enum":
        return [f"{key} must be one of {', '.join(map(json.dumps, error.validator_value))}"]
    message = error.message if len(error.message) <= 200 else error.message[:200] + "…"
    return [f"{key}: {message}"]


def validate(scope: Scope, values: Any) -> dict[str, Any]:
    """``values`` if the scope's schema accepts them, else :class:`PreferencesInvalid`."""
    if not isinstance(values, dict):
        raise PreferencesInvalid(["preferences are a JSON object"])
    size = len(json.dumps(values, ensure_ascii=False).encode())
    if size > MAX_BYTES:
        raise PreferencesInvalid([f"preferences are at most {MAX_BYTES} bytes of JSON"])
    problems: list[str] = []
    for error in sorted(
        _validator(scope).iter_errors(values), key=lambda e: list(map(str, e.absolute_path))
    ):
        problems.extend(_problem(scope, error))
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise PreferencesInvalid(problems[:MAX_PROBLEMS])
    return values


def _defaults_of(node: Mapping[str, Any]) -> Any:
    document = schema_document()
    if "$ref" in node:
        node = document["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    if "default" in node:
        return copy.deepcopy(node["default"])
    if node.get("type") == "object":
        return {
            name: value
            for name, sub in node.get("properties", {}).items()
            if (value := _defaults_of(sub)) is not None
        }
    return None


def defaults(scope: Scope) -> dict[str, Any]:
    """Every key's default (nested objects filled in too)."""
    result = _defaults_of(schema_document()["$defs"][scope.value])
    return result if isinstance(result, dict) else {}


def merged(scope: Scope, stored: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults with ``stored`` over them, object by object."""

    def merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(base)
        for key, value in over.items():
            if isinstance(value, Mapping) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
        return out

    return merge(defaults(scope), stored)


def upgraded(version: int, values: dict[str, Any]) -> dict[str, Any]:
    """Values stored under ``version``, brought to :data:`CURRENT_VERSION`."""
    while version < CURRENT_VERSION:
        values = UPGRADES[version](values)
        version += 1
    return values
