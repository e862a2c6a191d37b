"""``python -m bench.profile_service OUT [--module M] [service args]``: a service (the auth
service unless ``--module`` names another, e.g. ``gateway``) under cProfile, timing the
event-loop thread's CPU (wall time would count waiting on a busy machine).

Start-up (imports, migrations check, connecting) is not profiled: SIGUSR1 starts a fresh profile
and SIGUSR2 stops it and writes it to OUT (the benchmark sends them around each phase and renames
the file after the phase); a profile still running at exit is written too. Profiling slows the
service: its figures are not the benchmark's."""

from __future__ import annotations

import cProfile
import runpy
import signal
import sys
import time
from types import FrameType


class PhaseProfiler:
    """One cProfile per SIGUSR1..SIGUSR2 window. The handlers run on the main thread, between
    two bytecodes of the event loop, so the profiler hooks the event-loop thread."""

    def __init__(self, out: str) -> None:
        self.out = out
        self.profiler: cProfile.Profile | None = None

    def start(self, _signum: int = 0, _frame: FrameType | None = None) -> None:
        self.profiler = cProfile.Profile(time.thread_time)
        self.profiler.enable()

    def stop(self, _signum: int = 0, _frame: FrameType | None = None) -> None:
        if self.profiler is not None:
            self.profiler.disable()
            self.profiler.dump_stats(self.out)
            self.profiler = None


def main() -> None:
    out, *service_args = sys.argv[1:]
    module = "services.auth"
    if service_args[:1] == ["--module"]:
        module, service_args = service_args[1], service_args[2:]
    sys.argv = [module, *service_args]
    phases = PhaseProfiler(out)
    signal.signal(signal.SIGUSR1, phases.start)
    signal.signal(signal.SIGUSR2, phases.stop)
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        phases.stop()


if __name__ == "__main__":
    main()
