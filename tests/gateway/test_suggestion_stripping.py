"""Suggestions off (production): "Did you mean ...?" is cut from error messages by one pattern
that runs on messages which can echo client text, so it must stay linear: its CPU cost on a
megabyte of hostile text is held to a multiple of a same-input baseline."""

from __future__ import annotations

import re
import time

from schema.extensions import _SUGGESTION

BUDGET = 20.0
#: The baseline: one pass of the regex engine over the same text with a single character class.
_BASELINE = re.compile(r"[\s?]")


def _cpu(work, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def test_the_suggestion_is_cut_and_the_rest_kept() -> None:
    message = "Cannot query field 'usr' on type 'Query'. Did you mean 'user' or 'users'?"
    assert _SUGGESTION.sub("", message) == "Cannot query field 'usr' on type 'Query'."


def test_stripping_is_linear_on_hostile_messages() -> None:
    size = 1_000_000
    hostile = {
        "whitespace run": "x" + " " * size + "y",
        "no question mark": "Did you mean " * (size // 13),
        "both": (" " * 1000 + "Did you mean ") * (size // 1013),
    }
    for name, text in hostile.items():
        spent = _cpu(lambda text=text: _SUGGESTION.sub("", text))
        base = max(_cpu(lambda text=text: _BASELINE.sub("", text)), 1e-4)
        assert spent <= BUDGET * base, f"{name}: {spent / base:.0f}x the baseline"


def test_the_old_pattern_would_blow_the_budget() -> None:
    old = re.compile(r"\s*Did you mean [^?]*\?")
    text = "x" + " " * 20_000 + "y"
    spent = _cpu(lambda: old.sub("", text), repeat=1)
    base = max(_cpu(lambda: _BASELINE.sub("", text)), 1e-5)
    assert spent > BUDGET * base
