"""A service's process run to completion (``python -m <module>``) with extra environment: for
the tests of what a process does at start (refusing bad settings, naming them)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import ROOT


def run_service(
    env: dict[str, str], module: str = "services.auth", *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
