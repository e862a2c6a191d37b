"""Capture what the configured logging writes: every line, rendered as the services render it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from services.common.logging import configure_logging
from services.common.settings import Settings


@contextmanager
def captured_logs(settings: Settings, service: str = "tests") -> Iterator[list[str]]:
    """Set logging up as ``service`` would with ``settings`` and collect its rendered lines
    (JSON or console, tracebacks included); afterwards the test defaults are restored."""
    configure_logging(settings, service)
    lines: list[str] = []
    handler = logging.getLogger().handlers[0]
    handler.emit = lambda record: lines.append(handler.format(record))  # type: ignore[method-assign]
    try:
        yield lines
    finally:
        configure_logging(Settings(), "tests")
