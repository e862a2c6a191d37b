"""``python -m bench.profile_service OUT [service args]``: the auth service under cProfile,
timing the event-loop thread's CPU (wall time would count waiting on a busy machine); the stats
go to OUT on exit. Profiling slows the service: its figures are not the benchmark's."""

from __future__ import annotations

import cProfile
import runpy
import sys
import time


def main() -> None:
    out, *service_args = sys.argv[1:]
    sys.argv = ["services.auth", *service_args]
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    try:
        runpy.run_module("services.auth", run_name="__main__", alter_sys=True)
    finally:
        profiler.disable()
        profiler.dump_stats(out)


if __name__ == "__main__":
    main()
