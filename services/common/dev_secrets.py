"""Development secrets generated once into the data directory and shared by every process."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.common.settings import Settings


class MissingSecretError(RuntimeError):
    """A production/staging process would have fallen back to a generated development secret."""

    def __init__(self, setting: str) -> None:
        super().__init__(f"{setting} is required outside development and test")
        self.setting = setting


def require_development(settings: Settings, setting: str) -> None:
    """Refuse a development fallback for ``setting`` (``ADX_...``) in production and staging.

    The runner checks every secret before start-up (``check_production_secrets``); this guard
    keeps any other entry point from generating a key of its own."""
    if settings.is_production:
        raise MissingSecretError(setting)


def development_secret(
    settings: Settings, setting: str, file_name: str, create: Callable[[], Any]
) -> Any:
    """The generated development stand-in for ``setting``, shared through the data directory."""
    require_development(settings, setting)
    return load_or_create(settings.data_dir / "keys" / file_name, create)


def load_or_create(path: Path, create: Callable[[], Any]) -> Any:
    """Read the JSON secret at ``path``; the first process to arrive creates it (mode 0600).

    ``O_EXCL`` makes creation race-free when several processes start at once; the others wait
    for the creator to finish writing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                json.dump(create(), handle, indent=2)
    for _ in range(100):
        text = path.read_text()
        if text.strip():
            return json.loads(text)
        time.sleep(0.05)
    raise RuntimeError(f"secret file {path} stayed empty")


def write_private(path: Path, value: Any) -> None:
    """Atomically replace ``path`` with ``value`` as JSON, readable by the owner only."""
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(value, handle, indent=2)
    os.replace(tmp, path)
