"""Log lines never carry secrets: sensitive keys and token-like text are redacted."""

from __future__ import annotations

import json
import logging

import structlog

from services.common.logging import REDACTED, configure_logging, redact
from services.common.settings import Settings

JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXBhcnQ"


def test_sensitive_keys_are_redacted_at_any_depth() -> None:
    event = {
        "password": "hunter2",
        "nested": {"refresh_token": "abc", "ok": "visible"},
        "Authorization": "Bearer xyz",
        "items": [{"api_key": "k"}],
    }
    assert redact(event) == {
        "password": REDACTED,
        "nested": {"refresh_token": REDACTED, "ok": "visible"},
        "Authorization": REDACTED,
        "items": [{"api_key": REDACTED}],
    }


def test_tokens_inside_free_text_are_redacted() -> None:
    text = f"calling with Bearer abc.def and {JWT} to postgresql://app:s3cret@db/x"
    cleaned = redact(text)
    assert "abc.def" not in cleaned and JWT not in cleaned and "s3cret" not in cleaned
    assert "postgresql://app:" in cleaned


def test_json_log_lines_carry_context_and_no_secrets(capsys) -> None:  # type: ignore[no-untyped-def]
    configure_logging(Settings(env="production", log_json=True), "auth")
    structlog.contextvars.bind_contextvars(request_id="req-1", tenant_id="t-1", workflow_id="wf-1")
    try:
        structlog.get_logger("test").info("login", password="hunter2", email_domain="example.com")
        logging.getLogger("temporalio").warning("stdlib line with %s", JWT)
    finally:
        structlog.contextvars.clear_contextvars()
        configure_logging(Settings(), "tests")

    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    login, stdlib = lines[-2], lines[-1]
    assert login["event"] == "login" and login["password"] == REDACTED
    assert (login["request_id"], login["tenant_id"], login["workflow_id"]) == (
        "req-1",
        "t-1",
        "wf-1",
    )
    assert login["service"] == "auth"
    assert JWT not in stdlib["event"] and stdlib["level"] == "warning"
