"""The log redactor is linear-time by construction and redacts by key and by value.

Issue 6, finding 1: the URL-credential pattern ``(\\w+://[^:/@\\s]+:)[^@\\s]+@`` was quadratic on
a long run of word characters; a ~900 KB value echoed into an error log kept the gateway at
100 % CPU for minutes. Costs here are CPU time (``time.process_time``) compared with a baseline
measured in the same test on the same input (one ``str.lower()`` and one linear ``re.search``),
never wall-clock limits: a superlinear step shows up as hundreds or thousands of times the
baseline, a linear one stays within a small multiple of it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import structlog

from gateway.run_access import RunAccess, RunIdentity
from services.auth.opaque import new_token
from services.common.logging import (
    MAX_DEPTH,
    MAX_EXCEPTION_CHARS,
    MAX_ITEMS,
    MAX_TEXT_CHARS,
    REDACTED,
    configure_logging,
    redact,
    redact_processor,
    redact_text,
    truncate,
)
from services.common.settings import Settings
from tests.log_capture import captured_logs

#: The patterns may cost at most this many times the baseline on the same input. Linear patterns
#: measure 5-10x here; the quadratic pattern of finding 1 measures over a thousand times.
BUDGET = 25
#: A log line's values are truncated before any pattern runs, so redacting megabytes costs a fixed
#: amount, far below one baseline pass over them (measured: about 0.1x of it).
TRUNCATED_BUDGET = 2
MB = 1_000_000
JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXBhcnQ"
#: The pattern of finding 1, kept here to show that the budget catches it.
OLD_URL_PATTERN = re.compile(r"(\w+://[^:/@\s]+:)[^@\s]+@")
_BASELINE = re.compile(r"[\x00-\x08]{2}")


def baseline(text: str) -> None:
    text.lower()
    _BASELINE.search(text)


def cpu(fn: Callable[[Any], object], arg: Any) -> float:
    """CPU seconds of one call: the best of three batches, each batch long enough (>= 20 ms)
    for the clock's granularity and a stray context switch not to matter."""
    best = float("inf")
    for _ in range(3):
        calls, start = 0, time.process_time()
        while True:
            fn(arg)
            calls += 1
            spent = time.process_time() - start
            if spent >= 0.02:
                break
        best = min(best, spent / calls)
    return best


def _repeat(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


#: Adversarial texts: each aims at one pattern's worst case (long runs its quantifiers could
#: re-scan from every position, prefixes that almost match, unterminated quotes).
ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "word run (finding 1)": lambda n: "A" * n,
    "graphql echo (finding 1)": lambda n: '{ user(id: "' + "A" * n + '") { id } }',
    "word run after a url": lambda n: 'see https://adx.dev { user(id: "' + "A" * n + '") }',
    "scheme colons": lambda n: _repeat("a://a:", n),
    "colons": lambda n: "a://" + _repeat("a:", n),
    "schemes": lambda n: _repeat("a://", n),
    "jwt headers": lambda n: _repeat("eyJ", n),
    "jwt segments": lambda n: _repeat("eyJaa.", n),
    "bearer words": lambda n: _repeat("bearer ", n),
    "bearer run": lambda n: _repeat("Bearer", n),
    "at signs": lambda n: _repeat("@", n),
    "user at": lambda n: _repeat("a:a@", n),
    "key words": lambda n: _repeat("password", n),
    "open quotes": lambda n: _repeat("password='", n),
    "json escapes": lambda n: _repeat('"token": "\\', n),
    "sql parameters": lambda n: _repeat("[parameters: ", n),
    "cookie headers": lambda n: _repeat("Cookie: ", n),
    "opaque-shaped": lambda n: _repeat("aB" * 21 + "c.", n),
    "surrogates": lambda n: _repeat("a\udc80", n),
    "dotted i": lambda n: _repeat("\u0130password=", n),
    "mixed": lambda n: _repeat("x-Bearer eyJa.b a://u:p@ token=é ", n),
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_redacting_megabytes_of_adversarial_text_stays_within_a_cpu_budget(name: str) -> None:
    """The whole redactor as a log line meets it (message, field, exception text, nested): it
    truncates first, so megabytes cost less than reading them once."""
    text = ADVERSARIAL[name](2 * MB)

    def redact_event(value: str) -> None:
        redact_processor(
            None,
            "error",
            {"event": value, "error": value, "exception": value, "nested": {"items": [value]}},
        )

    spent, allowed = cpu(redact_event, text), TRUNCATED_BUDGET * cpu(baseline, text)
    assert spent <= allowed, f"{name}: {spent * 1e3:.1f} ms > {allowed * 1e3:.1f} ms"


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_the_patterns_alone_are_linear_without_truncation(name: str) -> None:
    """Truncation is a second line of defence: the patterns are linear on their own. Sizes
    grow so that a superlinear pattern fails fast at the first, small one."""
    for size in (16_000, 128_000, MB):
        text = ADVERSARIAL[name](size)
        spent, allowed = cpu(redact_text, text), BUDGET * cpu(baseline, text)
        assert spent <= allowed, f"{name} @ {size}: {spent * 1e3:.1f} ms > {allowed * 1e3:.1f} ms"


def test_the_budget_catches_the_quadratic_pattern_of_finding_1() -> None:
    """The old pattern on 8 KB of the finding's input blows the budget by orders of magnitude
    (the finding: 20 KB took 1.7 s, 900 KB more than 12 minutes); the redactor does not."""
    text = '{ user(id: "' + "A" * 8_000 + '") { id } }'
    allowed = BUDGET * cpu(baseline, text)
    assert cpu(lambda t: OLD_URL_PATTERN.sub("x", t), text) > 20 * allowed
    assert cpu(redact_text, text) <= allowed


def _nested_dicts(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"password": "deep-secret"}
    for _ in range(depth):
        value = {"child": value}
    return value


def _nested_lists(depth: int) -> list[Any]:
    value: list[Any] = ["deep-secret"]
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("build", [_nested_dicts, _nested_lists])
def test_deeply_nested_values_are_cut_off_not_recursed(build: Callable[[int], Any]) -> None:
    deep = build(100_000)  # far past the interpreter's recursion limit
    spent = cpu(redact, deep)
    cleaned = redact(deep)
    rendered = json.dumps(cleaned)  # would raise RecursionError on the original
    assert "deep-secret" not in rendered and f"nested deeper than {MAX_DEPTH} levels" in rendered
    assert spent < cpu(baseline, "x" * 100_000) * BUDGET


def test_wide_values_keep_their_first_items_only() -> None:
    wide = {"ids": list(range(MB)), "map": {f"k{i}": i for i in range(10_000)}}
    cleaned = redact(wide)
    assert cleaned["ids"][:MAX_ITEMS] == list(range(MAX_ITEMS))
    assert cleaned["ids"][-1] == f"[{MB - MAX_ITEMS} more items]"
    assert len(cleaned["map"]) == MAX_ITEMS + 1


# --- truncation ---------------------------------------------------------------------------------


def test_long_values_are_truncated_with_a_marker() -> None:
    cleaned = redact("x " * MB)
    assert len(cleaned) < MAX_TEXT_CHARS + 40
    assert cleaned.endswith(f"…[truncated {2 * MB - MAX_TEXT_CHARS} chars]")


def test_truncation_never_leaves_part_of_a_token_behind() -> None:
    token, _ = new_token()
    text = "x" * (MAX_TEXT_CHARS - 10) + " " + token
    cleaned = redact(text)
    assert token[:5] not in cleaned and "…[truncated" in cleaned


def test_exception_text_keeps_head_and_tail() -> None:
    traceback_text = "Traceback (most recent call last):\n" + "  frame\n" * 100_000 + "Boom: end"
    cleaned = redact(traceback_text, "exception")
    assert len(cleaned) < MAX_EXCEPTION_CHARS + 40
    assert cleaned.startswith("Traceback") and cleaned.endswith("Boom: end")
    assert "…[truncated" in cleaned
    assert truncate("short", 10) == "short"


# --- by key -------------------------------------------------------------------------------------


def test_new_sensitive_keys_are_redacted_and_harmless_ones_kept() -> None:
    event = {
        "refresh": "r",
        "code_verifier": "v",
        "credentials": "c",
        "sealed_context": "s",
        "session_token": "t",
        "X-Api-Key": "k",
        "token_type": "Bearer",
        "mfa_otp_enabled": True,
        "user_id": "u-1",
    }
    assert redact(event) == {
        "refresh": REDACTED,
        "code_verifier": REDACTED,
        "credentials": REDACTED,
        "sealed_context": REDACTED,
        "session_token": REDACTED,
        "X-Api-Key": REDACTED,
        "token_type": "Bearer",
        "mfa_otp_enabled": True,  # a flag carries no secret
        "user_id": "u-1",
    }


@dataclass
class _Input:
    email: str
    password: str
    tokens: list[str]


def test_dataclasses_are_redacted_field_by_field() -> None:
    cleaned = redact({"input": _Input("a@example.com", "hunter2", ["x"])})
    assert "hunter2" not in cleaned["input"] and "a@example.com" not in cleaned["input"]
    assert cleaned["input"].startswith("_Input(email='[REDACTED]'")


def test_personal_data_is_redacted_by_key() -> None:
    """E-mail addresses, phone numbers and names are personal data (issue 9): never logged."""
    event = {
        "email": "ada@example.com",
        "to_email": "bob@example.com",
        "phone": "+441632960961",
        "display_name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "profile": {"full_name": "Ada King"},
        "user_id": "7a1e",  # ids are not personal data: debugging needs them
        "to_domain": "example.com",
    }
    cleaned = redact(event)
    rendered = repr(cleaned)
    for value in ("ada@", "bob@", "+44", "Ada", "Lovelace", "King"):
        assert value not in rendered
    assert cleaned["user_id"] == "7a1e" and cleaned["to_domain"] == "example.com"
    assert redact("update email=ada@example.com ok") == f"update email={REDACTED} ok"


# --- by value -----------------------------------------------------------------------------------


def test_opaque_tokens_we_issue_are_recognised() -> None:
    for _ in range(200):
        token, digest = new_token()
        assert redact(f"refresh with {token}, please") == f"refresh with {REDACTED}, please"
        assert redact(f"digest {digest}") == f"digest {digest}"  # a hash is not a credential
    verifier = secrets.token_urlsafe(64)
    assert verifier not in redact(f"verifier {verifier}")
    access = RunAccess(os.urandom(32))  # the sign-up run's access token: a 43-char HMAC
    for _ in range(50):
        run_token = access.token(RunIdentity(uuid.uuid4().hex, uuid.uuid4().hex, None))
        assert run_token not in redact(f"x-run-access {run_token}")
    ordinary = "registration-" + uuid.uuid4().hex[:30]  # 43 characters, one case
    assert redact(ordinary) == ordinary


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("CreateCredentialsInput(email='a@b.c', password='hunter2')", "hunter2"),
        ('{"refresh_token": "r-1\\"x", "ok": 1}', "r-1"),
        ("https://adx.dev/verify?token=t0k3n&next=/", "t0k3n"),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("authorization=Bearer abc.def", "abc.def"),
        ("redis://:s3cret@127.0.0.1:6379/0", "s3cret"),
        ("postgresql://app:p%40ss@db/x", "p%40ss"),
        ("otpauth://totp/ADX:alice?secret=JBSWY3DPEHPK3PXP&issuer=ADX", "JBSWY3DPEHPK3PXP"),
        ("[SQL: INSERT ...]\n[parameters: ('a@b.c', '$argon2id$v=19$x')]", "argon2id"),
        (f"cookie: adx_session={JWT}", JWT),
        ("Cookie: theme=dark; adx_session=s3ss10n; lang=en\n", "s3ss10n"),
        ("PASSWORD = 'cut-off-by-truncation", "cut-off"),
    ],
)
def test_secrets_inside_free_text_are_redacted(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_lone_surrogates_do_not_break_a_line() -> None:
    assert redact("bad \udc80 e-mail") == "bad ? e-mail"


# --- exceptions ---------------------------------------------------------------------------------


def _fail_with_a_secret_in_a_local(planted: str) -> None:
    credentials = _Input("a@example.com", planted, [planted])  # noqa: F841 - the planted local
    raise RuntimeError(f"taken (Bearer {planted}, token={planted})")


@pytest.mark.parametrize("json_logs", [True, False], ids=["json", "console"])
def test_tracebacks_show_no_locals_and_their_text_is_redacted(json_logs: bool) -> None:
    planted = f"planted-{uuid.uuid4().hex}"
    with captured_logs(Settings(log_json=json_logs, log_level="INFO")) as lines:
        try:
            _fail_with_a_secret_in_a_local(planted)
        except RuntimeError:
            structlog.get_logger("test").exception("structlog_failure")
            logging.getLogger("temporalio.activity").warning("stdlib failure", exc_info=True)
    output = "\n".join(lines)
    assert "structlog_failure" in output and "stdlib failure" in output
    assert output.count("RuntimeError: taken") == 2  # the exception text is there, redacted
    assert planted not in output


def test_the_console_renderer_never_uses_rich_locals() -> None:
    configure_logging(Settings(log_json=False), "tests")
    try:
        formatter = logging.getLogger().handlers[0].formatter
        renderer = formatter.processors[-1]  # type: ignore[union-attr]
        assert renderer.exception_formatter is structlog.dev.plain_traceback
    finally:
        configure_logging(Settings(), "tests")
