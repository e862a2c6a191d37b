"""The malformed-body guard (services/common/json_input.py) runs on every request body before
anything parses it, so it must be linear on hostile text: its CPU cost on a megabyte of
adversarial JSON is held to a fixed multiple of a same-input baseline (a few linear passes over
the same bytes: count, translate, encode, and one running sum), never a wall-clock bound."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import pytest

from services.common.json_input import json_problem

SIZE = 1_000_000
#: The guard does a handful of linear passes; quadratic behaviour is thousands of times more.
BUDGET = 20.0

ADVERSARIAL: dict[str, Callable[[int], str]] = {
    # An unterminated string of escaped quotes: the old string pattern retried from each one.
    "escaped quotes, unterminated": lambda n: '{"a": "' + '\\"' * (n // 2) + "[" * 70,
    "escaped quotes, trailing backslash": lambda n: '"' + '\\"' * (n // 2) + "\\",
    "many short strings": lambda n: '["' + '","'.join(["a"] * (n // 4)) + '"]' + "[" * 70,
    "lone quotes": lambda n: '"a' * (n // 2) + "[" * 70,
    "brackets in strings": lambda n: '{"a": "' + "[{" * (n // 2) + '"}' + "[" * 70,
    "backslashes": lambda n: '["' + "\\\\" * (n // 2) + '"]' + "{" * 70,
    "deep nesting": lambda n: "[" * (n // 2) + "]" * (n // 2),
    "surrogate escapes": lambda n: '["' + "\\ud800" * (n // 6) + '"]',
}


def _cpu(work: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_the_guard_is_linear_on_adversarial_json(name: str) -> None:
    text = ADVERSARIAL[name](SIZE)
    body = text.encode()
    table = bytes.maketrans(b"[{", b"]}")

    def baseline() -> None:
        body.count(b'"')
        body.translate(table)
        text.encode("utf-8")
        max(itertools.accumulate(body))

    guard = _cpu(lambda: json_problem(body))
    base = max(_cpu(baseline), 1e-4)

    assert guard <= BUDGET * base, f"{name}: {guard:.3f}s of CPU, {guard / base:.0f}x the baseline"


def test_the_old_string_pattern_would_blow_the_budget() -> None:
    """Shows the budget catches the quadratic pattern this guard once used (on a small input)."""
    import re

    old = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
    text = '{"a": "' + '\\"' * 8000 + "[" * 70
    body = text.encode()

    spent = _cpu(lambda: old.sub("", text), repeat=1)
    base = max(_cpu(lambda: body.count(b'"')), 1e-5)

    assert spent > BUDGET * base


def test_unterminated_strings_hide_their_brackets() -> None:
    assert json_problem('{"a": "' + "[" * 200) is None  # a syntax error, left to the parser
    assert json_problem("[" * 65 + '"' + "]" * 65) is not None
