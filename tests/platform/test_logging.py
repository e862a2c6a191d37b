"""Log lines never carry secrets: sensitive keys and token-like text are redacted."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import structlog

from services.common.logging import REDACTED, configure_logging, redact
from services.common.settings import Settings
from tests.support import ROOT

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


# --- trace context ------------------------------------------------------------------------------

#: Runs in a child process: tracing is set up once per process and for good, and this test
#: session's own process must stay untraced (tests/platform/test_tracing.py checks that).
TRACED_PROCESS = """
import logging, sys
import structlog
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from services.common.logging import configure_logging
from services.common.settings import Settings
from services.common.tracing import configure_tracing, shutdown_tracing

settings = Settings(_env_file=None, env="test", log_json=True, otel_exporter=sys.argv[1],
                    otel_file=sys.argv[2], otel_sample_ratio=float(sys.argv[3]))
configure_logging(settings, "auth")
configure_tracing(settings, "auth")
log = structlog.get_logger("test")
tracer = trace.get_tracer("test")
log.info("before")
with tracer.start_as_current_span("inbound", kind=SpanKind.SERVER):
    log.info("in_request")
    with tracer.start_as_current_span("query"):
        logging.getLogger("sqlalchemy").warning("in_query")
log.info("after")
shutdown_tracing()
"""


def run_traced(tmp_path: Path, exporter: str, ratio: float = 1.0) -> tuple[dict[str, Any], ...]:
    spans = tmp_path / "spans.jsonl"
    result = subprocess.run(
        [sys.executable, "-c", TRACED_PROCESS, exporter, str(spans), str(ratio)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = {
        line["event"]: line
        for line in map(json.loads, result.stderr.splitlines())
        if line.get("event") in ("before", "in_request", "in_query", "after")
    }
    exported = (
        [json.loads(line) for line in spans.read_text().splitlines()] if spans.exists() else []
    )
    return lines, {span["name"]: span["context"] for span in exported}


def test_log_lines_inside_a_span_carry_its_trace_and_span_ids(tmp_path: Path) -> None:
    lines, spans = run_traced(tmp_path, "file")

    inbound, query = spans["inbound"], spans["query"]
    request, in_query = lines["in_request"], lines["in_query"]
    assert "0x" + request["trace_id"] == inbound["trace_id"]
    assert "0x" + request["span_id"] == inbound["span_id"]
    # A stdlib line (libraries) inside the child span carries the child's id, same trace.
    assert "0x" + in_query["trace_id"] == query["trace_id"] == inbound["trace_id"]
    assert "0x" + in_query["span_id"] == query["span_id"]
    for outside in (lines["before"], lines["after"]):
        assert "trace_id" not in outside and "span_id" not in outside


def test_unsampled_traces_and_tracing_off_add_no_ids(tmp_path: Path) -> None:
    unsampled, spans = run_traced(tmp_path, "file", ratio=0.0)
    assert spans == {}
    off, _ = run_traced(tmp_path, "none")
    for lines in (unsampled, off):
        assert set(lines) == {"before", "in_request", "in_query", "after"}
        assert not any("trace_id" in line or "span_id" in line for line in lines.values())
