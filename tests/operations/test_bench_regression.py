"""bench/regression.py: results compared with a baseline by their ratios, as CI runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.regression import BASELINE, check, compare, flatten, load_baseline, load_results, main
from tests.support import ROOT

BASE = {
    "threshold": 0.15,
    "benches": {
        "gateway_bench": {
            "metrics": {
                "queries.user_by_id.p50_ratio": {"value": 1.1, "better": "lower"},
                "mutation.p50_ratio_to_sign_up_start": {"value": 1.4, "better": "lower"},
            }
        },
        "auth_bench": {"metrics": {"login_ratio": {"value": 0.8, "better": "higher"}}},
    },
}


def gateway(user_by_id: float, sign_up: float | None = 1.4) -> dict[str, object]:
    figures: dict[str, object] = {
        "queries": {"user_by_id": {"p50_ratio": user_by_id, "gateway_p50_ms": 999.0}},
        "machine": {"cpus": 2},
    }
    if sign_up is not None:
        figures["mutation"] = {"p50_ratio_to_sign_up_start": sign_up, "met": True}
    return figures


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(BASE))
    return path


def write(tmp_path: Path, name: str, figures: dict[str, object]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(figures))
    return path


def test_a_ratio_worse_than_the_threshold_is_a_regression(
    tmp_path: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = write(tmp_path, "gateway_bench.json", gateway(user_by_id=1.3))  # +18 %

    assert check([results], baseline) == 1

    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "user_by_id" in line)
    assert row.split() == [
        "gateway_bench", "queries.user_by_id.p50_ratio", "lower", "1.1", "1.3", "+18.2%", "+15%",
        "REGRESSION",
    ]  # fmt: skip
    assert "FAILED: 1 regression(s), 0 missing metric(s)" in out


def test_within_the_threshold_or_better_passes(
    tmp_path: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slightly_worse = write(tmp_path, "gateway_bench.json", gateway(user_by_id=1.2))  # +9 %
    faster_login = write(tmp_path, "auth_bench-quiet.json", {"login_ratio": 0.95})

    assert check([slightly_worse, faster_login], baseline) == 0

    out = capsys.readouterr().out
    assert "improved" in next(line for line in out.splitlines() if "login_ratio" in line)
    assert "OK: 3 metric(s) within their limits" in out


def test_higher_is_better_regresses_downwards(tmp_path: Path, baseline: Path) -> None:
    assert check([write(tmp_path, "auth_bench.json", {"login_ratio": 0.6})], baseline) == 1
    assert check([write(tmp_path, "auth_bench.json", {"login_ratio": 0.7})], baseline) == 0


def test_a_missing_metric_is_reported_and_fails(
    tmp_path: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = write(tmp_path, "gateway_bench.json", gateway(user_by_id=1.0, sign_up=None))

    assert check([results], baseline) == 1

    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "sign_up_start" in line)
    assert row.split()[-1] == "MISSING"
    assert "0 regression(s), 1 missing metric(s)" in out


def test_results_of_no_watched_bench_fail_loudly(tmp_path: Path, baseline: Path) -> None:
    assert check([write(tmp_path, "other_bench.json", {"p50_ratio": 1.0})], baseline) == 1


def test_the_bench_key_names_the_bench(tmp_path: Path) -> None:
    path = write(tmp_path, "out.json", {"bench": "auth_bench", "login_ratio": 0.9, "ok": True})
    assert load_results([path]) == {"auth_bench": {"login_ratio": 0.9}}
    assert dict(flatten({"a": [{"b": 1}], "c": float("nan"), "d": False})) == {"a.0.b": 1.0}


def test_the_committed_baseline_loads_and_names_real_figures() -> None:
    threshold, watched = load_baseline(BASELINE)
    assert 0 < threshold < 1 and watched
    benches = {w.bench for w in watched}
    assert all((ROOT / "bench" / f"{bench}.py").is_file() for bench in benches)
    for item in watched:  # every watched path ends in a key the bench writes
        assert (
            f'"{item.metric.split(".")[-1]}"' in (ROOT / "bench" / f"{item.bench}.py").read_text()
        )
    same: dict[str, dict[str, float]] = {}
    for w in watched:
        same.setdefault(w.bench, {})[w.metric] = w.baseline
    rows = compare(watched, same)
    assert {r.status for r in rows} == {"ok"}


def test_the_command_line_ci_runs(tmp_path: Path, baseline: Path) -> None:
    bad = write(tmp_path, "gateway_bench.json", gateway(user_by_id=2.0))
    ran = subprocess.run(
        [sys.executable, "-m", "bench.regression", "check", str(bad), "--baseline", str(baseline)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert ran.returncode == 1 and "REGRESSION" in ran.stdout, ran.stdout + ran.stderr
    assert main(["check", str(tmp_path / "absent.json"), "--baseline", str(baseline)]) == 2


def test_record_takes_the_results_as_the_new_baseline(tmp_path: Path, baseline: Path) -> None:
    results = write(tmp_path, "gateway_bench.json", gateway(user_by_id=1.3))
    assert main(["record", str(results), "--baseline", str(baseline)]) == 0
    assert check([results], baseline) == 0
    recorded = json.loads(baseline.read_text())["benches"]["gateway_bench"]["metrics"]
    assert recorded["queries.user_by_id.p50_ratio"]["value"] == 1.3
