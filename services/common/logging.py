"""structlog set-up: readable console in development, JSON elsewhere, secrets and tokens redacted."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

import structlog
from opentelemetry import trace

from services.common.settings import Settings

REDACTED = "[REDACTED]"

#: Keys whose values never reach a log line (secrets, and personal data), matched
#: case-insensitively as substrings.
SENSITIVE_KEYS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "authorization",
    "api_key",
    "api-key",
    "apikey",
    "cookie",
    "private_key",
    "otp",
    "totp",
    "recovery_code",
    "refresh",
    "code_verifier",
    "credential",
    "sealed",
    "nonce",
    # Personal data (docs/observability.md): addresses and names are not needed to debug.
    "email",
    "e_mail",
    "phone",
    "display_name",
    "given_name",
    "family_name",
    "first_name",
    "last_name",
    "full_name",
)
#: Exact keys that contain a marker above but carry no secret.
NON_SENSITIVE_KEYS = frozenset({"token_type", "token_count"})

# --- bounds: every step below is linear in the size of its input --------------------------------
#: Longest string kept from a message or field; the rest becomes a "…[truncated N chars]" marker.
MAX_TEXT_CHARS = 4096
#: Rendered exceptions (tracebacks) keep their head and their tail (the exception line) up to this.
MAX_EXCEPTION_CHARS = 16384
#: Nested dicts/lists deeper than this, and items past this count, are summarised, not walked.
MAX_DEPTH = 8
MAX_ITEMS = 200
#: Keys that hold rendered tracebacks or stacks (``format_exc_info``, stdlib ``stack_info``).
_EXCEPTION_KEYS = frozenset({"exception", "stack", "stack_info"})
#: Characters of a token: a truncation never leaves the cut-off part of one behind.
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/=")
_MAX_TOKEN_TAIL = 256

# Free-text patterns. Each is linear by construction: every quantifier is bounded and
# possessive (``{m,n}+``: it never gives back, so no backtracking), each starts with a literal or
# a trie of literals that the engine finds by fast search, and where a match could otherwise start
# inside a run of word characters a lookbehind allows its first position only (the old URL
# pattern, ``(\w+://[^:/@\s]+:)[^@\s]+@``, retried every position of a long run: quadratic).
_B64 = r"[A-Za-z0-9_-]"


def _trie(words: Iterable[str]) -> str:
    """A regex matching any of ``words``, factored by common prefixes so that each position is
    tried against one branch per distinct first character instead of against every word."""
    groups: dict[str, list[str]] = {}
    for word in sorted(set(words)):
        groups.setdefault(word[:1], []).append(word[1:])
    branches = []
    for first, rests in groups.items():
        if first == "":
            continue
        optional = "" in rests
        rest = [r for r in rests if r]
        tail = _trie(rest) if rest else ""
        if tail:
            tail = f"(?:{tail})" + ("?" if optional else "")
        branches.append(re.escape(first) + tail)
    return "|".join(branches)


#: Matched on the lower-cased text: a sensitive key followed by "=" or ":" (``key=value``,
#: ``key: value``, ``"key": "value"``, ``key='value'`` in reprs, query strings, headers, JSON),
#: or a bearer credential. Group ``keep`` stays, the value after it becomes ``[REDACTED]``; a
#: value cut off by truncation (no closing quote) is redacted too.
_KEYED_VALUE = re.compile(
    # A Cookie or Authorization header line: everything up to the end of the line (a cookie
    # header holds many "name=value" pairs, any of them a session).
    r"(?P<line>(?:cookie|authorization)\s{0,4}+:\s{0,4}+)(?!\[redacted\])[^\r\n'\"]{1,4096}+"
    rf"|(?P<keep>(?:{_trie([*SENSITIVE_KEYS, 'access_key'])})[\w-]{{0,32}}+['\"]?+\s{{0,4}}+[=:]"
    r"\s{0,4}+)(?!\[redacted\])"
    r"(?:\"(?:[^\"\\\n]|\\.){0,4096}+\"?+|'(?:[^'\\\n]|\\.){0,4096}+'?+"
    r"|(?:(?:bearer|basic|digest)\s{1,16}+)?+[^\s,;&)}\]'\"]{1,4096}+)"
    r"|(?P<bearer>bearer(?<![\w-]bearer)\s{1,16}+)(?!\[redacted\])[\w.~+/=-]{1,8192}+"
)
#: ``(literal every match contains, pattern, replacement)``: a text without the literal (a C
#: substring search) is not scanned by the pattern at all.
_TEXT_PATTERNS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    # JWT / JWS / JWE: base64url JSON header "eyJ" at a boundary, then 1-4 dot-separated segments.
    (
        "eyJ",
        re.compile(rf"eyJ(?<!{_B64}eyJ){_B64}{{2,8192}}+(?:\.{_B64}{{0,16384}}+){{1,4}}+"),
        REDACTED,
    ),
    # URL userinfo password (RFC 3986 userinfo holds no "/", "?", "#" or "@"); user may be empty.
    (
        "://",
        re.compile(r"(://[^:/?#@\s]{0,256}+:)[^/?#@\s]{1,1024}+@"),
        r"\1" + REDACTED + "@",
    ),
    # SQLAlchemy error text lists statement parameters (e-mails, hashes) on one line.
    ("[parameters: ", re.compile(r"(\[parameters: )[^\n]{1,65536}+"), r"\1" + REDACTED + "]"),
)
#: Shortest text the opaque-token pattern can match.
_OPAQUE_MIN = 43
# Opaque tokens we issue (services/auth/opaque.py: secrets.token_urlsafe(32), 43 base64url
# characters, as are the sign-up run access tokens, gateway/run_access.py: an unpadded base64url
# HMAC-SHA256; SSO code verifiers token_urlsafe(64), 86). Told apart from ordinary identifiers by
# having both upper- and lower-case letters (a random one lacks either with p < 1e-9).
_OPAQUE = re.compile(rf"(?<!{_B64})(?:{_B64}{{86}}|{_B64}{{43}})(?!{_B64})")
_UPPER = re.compile(r"[A-Z]")
_LOWER = re.compile(r"[a-z]")


def _opaque(match: re.Match[str]) -> str:
    token = match.group()
    return REDACTED if _UPPER.search(token) and _LOWER.search(token) else token


def _redact_keyed_values(text: str) -> str:
    # str.lower() keeps every length but one: U+0130 (İ) becomes two characters.
    lowered = text.replace("\u0130", "I").lower()
    if "=" not in lowered and ":" not in lowered and "bearer" not in lowered:
        return text
    parts: list[str] = []
    last = 0
    for match in _KEYED_VALUE.finditer(lowered):
        kept = next(g for g in ("line", "keep", "bearer") if match.group(g) is not None)
        parts += (text[last : match.end(kept)], REDACTED)
        last = match.end()
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def _is_sensitive(key: str) -> bool:
    lowered = key.lower()
    if lowered in NON_SENSITIVE_KEYS:
        return False
    return any(marker in lowered for marker in SENSITIVE_KEYS)


def _cut_head(text: str, end: int) -> int:
    """Move a cut at ``end`` back over a token it would split, so no partial token stays."""
    floor = max(0, end - _MAX_TOKEN_TAIL)
    while end > floor and text[end - 1] in _TOKEN_CHARS and text[end] in _TOKEN_CHARS:
        end -= 1
    return end


def _cut_tail(text: str, start: int) -> int:
    ceiling = min(len(text), start + _MAX_TOKEN_TAIL)
    while start < ceiling and text[start] in _TOKEN_CHARS and text[start - 1] in _TOKEN_CHARS:
        start += 1
    return start


def truncate(text: str, limit: int = MAX_TEXT_CHARS, *, keep_tail: bool = False) -> str:
    """``text`` cut to about ``limit`` characters with a "…[truncated N chars]" marker, never in
    the middle of a token. ``keep_tail`` keeps the head and the tail (a traceback's last line)."""
    if len(text) <= limit:
        return text
    if keep_tail:
        head_end = _cut_head(text, limit // 2)
        tail_start = _cut_tail(text, len(text) - limit // 2)
        return f"{text[:head_end]}…[truncated {tail_start - head_end} chars]…{text[tail_start:]}"
    end = _cut_head(text, limit)
    return f"{text[:end]}…[truncated {len(text) - end} chars]"


def redact_text(text: str) -> str:
    """Replace token-like parts of ``text`` (no truncation: linear in ``len(text)``)."""
    if not text.isascii():
        # A lone surrogate cannot be written to a UTF-8 log: it becomes "?".
        text = text.encode("utf-8", "replace").decode("utf-8")
    text = _redact_keyed_values(text)
    for literal, pattern, replacement in _TEXT_PATTERNS:
        if literal in text:
            text = pattern.sub(replacement, text)
    return _OPAQUE.sub(_opaque, text) if len(text) >= _OPAQUE_MIN else text


def redact(value: Any, key: str = "", _depth: int = 0) -> Any:
    """Return ``value`` with sensitive keys and token-like strings replaced by ``[REDACTED]``.

    Strings are truncated (``MAX_TEXT_CHARS``; tracebacks ``MAX_EXCEPTION_CHARS``, head and tail)
    before any pattern runs; containers are walked to ``MAX_DEPTH`` levels and ``MAX_ITEMS``
    items; any other object is redacted as its ``repr`` (dataclasses field by field, by key)."""
    # An empty value or a flag carries no secret and says something (not set, enabled).
    blank = value is None or isinstance(value, bool) or (isinstance(value, str) and not value)
    if key and not blank and _is_sensitive(key):
        return REDACTED
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if key in _EXCEPTION_KEYS:
            return redact_text(truncate(value, MAX_EXCEPTION_CHARS, keep_tail=True))
        return redact_text(truncate(value))
    if _depth >= MAX_DEPTH:
        return f"[{type(value).__name__} nested deeper than {MAX_DEPTH} levels]"
    if isinstance(value, Mapping):
        items = list(itertools.islice(value.items(), MAX_ITEMS))
        redacted: dict[Any, Any] = {
            redact_text(truncate(str(k), 256)): redact(v, str(k)[:256], _depth + 1)
            for k, v in items
        }
        if len(value) > MAX_ITEMS:
            redacted["…"] = f"[{len(value) - MAX_ITEMS} more items]"
        return redacted
    if isinstance(value, list | tuple | set | frozenset):
        kept = [redact(v, "", _depth + 1) for v in itertools.islice(value, MAX_ITEMS)]
        if len(value) > MAX_ITEMS:
            kept.append(f"[{len(value) - MAX_ITEMS} more items]")
        return kept if not isinstance(value, tuple) else tuple(kept)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ", ".join(
            f"{f.name}={redact(getattr(value, f.name, None), f.name, _depth + 1)!r}"
            for f in dataclasses.fields(value)[:MAX_ITEMS]
        )
        return truncate(f"{type(value).__name__}({fields})")
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not lose the log line
        text = f"<unrepresentable {type(value).__name__}>"
    return redact_text(truncate(text))


#: Keys structlog and the stdlib bridge use for their own bookkeeping, passed through untouched.
_META_KEYS = frozenset({"_record", "_from_structlog", "exc_info"})


def redact_processor(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    event_dict.pop("color_message", None)  # uvicorn's duplicate of the message
    for key in list(event_dict):
        if key not in _META_KEYS:
            event_dict[key] = redact(event_dict[key], key)
    return event_dict


def trace_context_processor(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Add the current span's ``trace_id`` and ``span_id`` (hex, as tracing back-ends show them)
    so a log line leads to its trace. Only for sampled spans: an unrecorded trace has nothing to
    lead to."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid and context.trace_flags.sampled:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


def configure_logging(settings: Settings, service: str) -> None:
    """Route structlog and stdlib logging (Temporal SDK, uvicorn) through one redacting renderer.
    With tracing on, lines logged inside a span carry its ids; with tracing off the processor is
    not installed at all.

    Exceptions are rendered to text first (plain tracebacks: frames and source lines, never
    local variables, in JSON and console mode alike), then every field, the message and that
    text are redacted, then the line is rendered."""
    tracing = [trace_context_processor] if settings.otel_exporter != "none" else []
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        *tracing,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.json_logs
        # The default exception formatter is Rich with show_locals=True: passwords and tokens
        # in a frame's variables would be printed. Exceptions arrive here as redacted text
        # already; the plain formatter is the fallback should an exc_info ever get through.
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # No line per request or per call: uvicorn's access log, and httpx's "HTTP Request: GET
    # <url>" at INFO for every call the gateway makes to a service (its JSON rendering and
    # redaction cost more CPU than the call's own request handling; bench/gateway_bench.py).
    # Breaker states and retries are on /metrics; failures are logged where they are handled.
    for name in ("uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str | None = None) -> Any:
    return structlog.stdlib.get_logger(name)
