"""Performance regression detection: bench results (``--json``) compared with ``bench/baseline.json``.

Each bench reports ratios against a baseline measured in the same run (the gateway against the
service it calls, a workflow against a bare one of the same shape, logins against raw argon2),
so the comparison is by those ratios, never by absolute times: a ratio does not move with the
machine. ``bench/baseline.json`` lists, per bench, the ratios it watches, whether lower or higher
is better, and the committed value; a result worse than the value by more than the threshold
(``threshold``, per metric or global, default 15 %) is a regression.

    python -m bench.regression check results/gateway_bench.json results/onboarding_bench.json
    python -m bench.regression record results/gateway_bench.json   # take these as the baseline

A results file belongs to the bench named by its ``"bench"`` key, else by its file name
(``gateway_bench.json``, ``gateway_bench-2026-12-01.json``: the part before the first ``-`` or
``.``). ``check`` prints one table row per watched metric and exits 1 on any regression or on a
watched metric missing from the results (a renamed or dropped figure must not pass unseen)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

BASELINE = Path(__file__).with_name("baseline.json")
DEFAULT_THRESHOLD = 0.15

Status = Literal["ok", "improved", "REGRESSION", "MISSING"]


@dataclass(frozen=True)
class Watched:
    """One ratio of one bench: its committed value and which way is better."""

    bench: str
    metric: str
    baseline: float
    better: Literal["lower", "higher"]
    threshold: float


@dataclass(frozen=True)
class Row:
    watched: Watched
    current: float | None
    status: Status

    @property
    def change(self) -> float | None:
        if self.current is None or self.watched.baseline == 0:
            return None
        return self.current / self.watched.baseline - 1


def flatten(data: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    """Every numeric leaf of ``data`` as (dotted path, value); lists by index; booleans skipped."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from flatten(value, f"{prefix}{key}.")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from flatten(value, f"{prefix}{index}.")
    elif isinstance(data, int | float) and not isinstance(data, bool) and math.isfinite(data):
        yield prefix[:-1], float(data)


def bench_of(path: Path, data: Mapping[str, Any]) -> str:
    name = data.get("bench")
    if isinstance(name, str) and name:
        return name
    return path.name.split(".")[0].split("-")[0]


def load_results(paths: Sequence[Path]) -> dict[str, dict[str, float]]:
    """Each bench's figures, flattened; two files of one bench: the later one's figures win."""
    results: dict[str, dict[str, float]] = {}
    for path in paths:
        data = json.loads(path.read_text())
        if not isinstance(data, Mapping):
            raise ValueError(f"{path}: not a JSON object of bench figures")
        results.setdefault(bench_of(path, data), {}).update(flatten(data))
    return results


def load_baseline(path: Path = BASELINE) -> tuple[float, list[Watched]]:
    data = json.loads(path.read_text())
    threshold = float(data.get("threshold", DEFAULT_THRESHOLD))
    watched = []
    for bench, spec in data["benches"].items():
        for metric, entry in spec["metrics"].items():
            better = entry["better"]
            if better not in ("lower", "higher"):
                raise ValueError(f"{bench}.{metric}: better must be 'lower' or 'higher'")
            watched.append(
                Watched(
                    bench,
                    metric,
                    float(entry["value"]),
                    better,
                    float(entry.get("threshold", threshold)),
                )
            )
    return threshold, watched


def compare(watched: Sequence[Watched], results: Mapping[str, Mapping[str, float]]) -> list[Row]:
    """A row per watched metric of every bench that has results (benches not run are skipped)."""
    rows = []
    for item in watched:
        if item.bench not in results:
            continue
        current = results[item.bench].get(item.metric)
        if current is None:
            rows.append(Row(item, None, "MISSING"))
            continue
        if item.better == "lower":
            worse = current > item.baseline * (1 + item.threshold)
            better = current < item.baseline
        else:
            worse = current < item.baseline * (1 - item.threshold)
            better = current > item.baseline
        rows.append(Row(item, current, "REGRESSION" if worse else "improved" if better else "ok"))
    return rows


def table(rows: Sequence[Row]) -> str:
    header = ("bench", "metric", "better", "baseline", "current", "change", "limit", "status")
    lines = [header]
    for row in rows:
        w = row.watched
        change = row.change
        lines.append(
            (
                w.bench,
                w.metric,
                w.better,
                f"{w.baseline:g}",
                "-" if row.current is None else f"{row.current:g}",
                "-" if change is None else f"{change:+.1%}",
                f"{'+' if w.better == 'lower' else '-'}{w.threshold:.0%}",
                row.status,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(n) for c, n in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def check(paths: Sequence[Path], baseline: Path = BASELINE) -> int:
    _, watched = load_baseline(baseline)
    results = load_results(paths)
    rows = compare(watched, results)
    known = {w.bench for w in watched}
    print(table(rows))
    for bench in sorted(set(results) - known):
        print(f"note: {bench} has no baseline in {baseline} (record one: `record`)")
    regressions = [r for r in rows if r.status == "REGRESSION"]
    missing = [r for r in rows if r.status == "MISSING"]
    if not rows:
        print("no watched metric in these results: nothing compared")
        return 1
    if regressions or missing:
        print(f"FAILED: {len(regressions)} regression(s), {len(missing)} missing metric(s)")
        return 1
    print(f"OK: {len(rows)} metric(s) within their limits")
    return 0


def record(paths: Sequence[Path], baseline: Path = BASELINE) -> int:
    """Set the watched metrics of these results' benches to their values (others unchanged)."""
    data = json.loads(baseline.read_text())
    results = load_results(paths)
    changed = 0
    for bench, figures in results.items():
        spec = data["benches"].get(bench)
        if spec is None:
            print(f"note: {bench} is not in {baseline}; add its metrics there first")
            continue
        for metric, entry in spec["metrics"].items():
            if metric in figures:
                entry["value"] = figures[metric]
                changed += 1
            else:
                print(f"warning: {bench}.{metric} is not in the results; kept {entry['value']}")
        spec["recorded_from"] = "measured"
    baseline.write_text(json.dumps(data, indent=2) + "\n")
    print(f"recorded {changed} value(s) into {baseline}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.regression", description=__doc__)
    parser.add_argument("command", choices=("check", "record"))
    parser.add_argument("results", nargs="+", type=Path, help="bench --json output files")
    parser.add_argument("--baseline", type=Path, default=BASELINE)
    args = parser.parse_args(argv)
    run = check if args.command == "check" else record
    try:
        return run(args.results, args.baseline)
    except (OSError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
