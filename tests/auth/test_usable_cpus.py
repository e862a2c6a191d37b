"""The argon2 pool is sized to the CPUs the process may use, container limits included."""

from __future__ import annotations

import os
from pathlib import Path

from services.auth.passwords import usable_cpus


def test_a_container_cpu_limit_caps_the_pool(tmp_path: Path) -> None:
    cpu_max = tmp_path / "cpu.max"
    allowed = len(os.sched_getaffinity(0))

    cpu_max.write_text("100000 100000\n")  # limits: cpu: "1"
    assert usable_cpus(cpu_max) == 1
    cpu_max.write_text("150000 100000\n")  # 1.5 CPUs: two threads, the second one part-time
    assert usable_cpus(cpu_max) == min(2, allowed)
    cpu_max.write_text("10000 100000\n")  # 100m: still one thread
    assert usable_cpus(cpu_max) == 1


def test_without_a_limit_the_affinity_counts(tmp_path: Path) -> None:
    allowed = len(os.sched_getaffinity(0))
    unlimited = tmp_path / "cpu.max"
    unlimited.write_text("max 100000\n")

    assert usable_cpus(unlimited) == allowed
    assert usable_cpus(tmp_path / "missing") == allowed
    (tmp_path / "garbage").write_text("not numbers\n")
    assert usable_cpus(tmp_path / "garbage") == allowed
