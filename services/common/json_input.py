"""Untrusted JSON text checked before anything recurses over it or encodes it again.

Three things a JSON parser accepts (or crashes on) that nothing behind it can handle:

- bytes that are not UTF-8;
- nesting deeper than :data:`MAX_JSON_DEPTH` (``json.loads`` raises ``RecursionError`` near
  1,000 levels, and whatever walks the value later — validation, GraphQL coercion, logging —
  recurses again);
- a lone UTF-16 surrogate escape (``"\\ud800"``): legal JSON syntax, but no character, so the value
  cannot be encoded as UTF-8 again (an e-mail sent on to a service or the database fails deep
  inside with a codec error).

The first two make the body unreadable: 400. The third is readable JSON carrying a value that
is not text: 422, like the database's "characters that cannot be stored" (services/common/errors.py).

:func:`json_problem` finds them in linear time without recursion: strings are cut out by one
regular expression (possessive, and matching to the end of the text when a string never closes),
the depth is a running sum over the remaining brackets, and only a body that contains a
surrogate escape at all is decoded to tell a lone one from a valid pair.
"""

from __future__ import annotations

import itertools
import json
import operator
import re
from dataclasses import dataclass
from typing import Any

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects accepted in a request body (and in GraphQL
``variables``); far beyond any real request, far below any recursion limit."""

#: A string literal, or an unterminated one up to the end of the text. Possessive and always
#: matching once it starts at a quote, so no start position is ever scanned twice: the former
#: ``"[^"\\]*(?:\\.[^"\\]*)*"`` failed on an unterminated ``"\\"\\"\\"…`` and was retried from
#: every escaped quote (quadratic: 40,000 of them took 16 s of CPU).
_STRING = re.compile(r'"(?:[^"\\]++|\\.?)*+(?:"|\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
#: ``[`` and ``{`` count 2, ``]`` and ``}`` 0: the running sum minus the position is the depth.
_BRACKET_WEIGHT = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


@dataclass(frozen=True)
class JsonProblem:
    """Why a body is refused: HTTP ``status`` (400 unreadable, 422 not text) and a ``detail``
    safe to show the client (it echoes no input)."""

    status: int
    detail: str


class MalformedJsonError(json.JSONDecodeError):
    """JSON the service refuses (``problem``); ``msg`` is its detail.

    A ``JSONDecodeError`` so that code catching bad JSON (Strawberry's WebSocket reader closes
    the socket with 4400) treats it like any other unparsable message."""

    def __init__(self, problem: JsonProblem) -> None:
        super().__init__(problem.detail, "", 0)
        self.problem = problem

    def __str__(self) -> str:
        return self.msg


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in ``text``, brackets inside strings not counted."""
    structure = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not structure:
        return 0
    weights = structure.encode("ascii").translate(_BRACKET_WEIGHT)
    return max(map(operator.sub, itertools.accumulate(weights), itertools.count(1)))


def json_problem(body: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> JsonProblem | None:
    """Why ``body`` must be refused before it is parsed, or ``None``. Syntax errors are left to
    the parser (this answers ``None`` for them)."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return JsonProblem(400, "The request body is not valid UTF-8.")
    else:
        text = body
    if (text.count("[") + text.count("{")) > max_depth and nesting_depth(text) > max_depth:
        return JsonProblem(400, f"JSON nested deeper than {max_depth} levels is not accepted.")
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(text):
        return JsonProblem(
            422,
            "The JSON contains a lone UTF-16 surrogate escape (\\ud800-\\udfff without its "
            "pair), which is not a character; send text as valid Unicode.",
        )
    return None


def _has_lone_surrogate(text: str) -> bool:
    """Valid pairs (``\\ud83d\\ude00``) decode to one character; a lone half stays a surrogate,
    which UTF-8 cannot encode."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return False  # not JSON at all: the parser says so
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def loads(body: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` for untrusted input; ``MalformedJsonError`` for what :func:`json_problem`
    refuses, ``json.JSONDecodeError`` for bad syntax."""
    problem = json_problem(body, max_depth=max_depth)
    if problem is not None:
        raise MalformedJsonError(problem)
    return json.loads(body)
