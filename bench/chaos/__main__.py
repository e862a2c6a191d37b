"""``python -m bench.chaos [--scenario NAME|all] [--outage 30] [--seconds 60] [--rate 20]
[--json out.json]``: each scenario on one ChaosStack under the mixed load, a table of figures and
verdicts; exit 1 when a verdict failed (docs/runbooks/chaos.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.chaos.run import RunPlan, load_target, run_scenario
from bench.chaos.scenarios import SCENARIOS
from bench.chaos.stack import ChaosStack
from bench.chaos.verdict import Verdict


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument(
        "--scenario", default="all", choices=["all", *SCENARIOS], help="which scenario to run"
    )
    parser.add_argument("--outage", type=float, default=30.0, help="seconds each fault lasts")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of load each")
    parser.add_argument("--rate", type=float, default=20.0, help="operations per second")
    parser.add_argument("--subscribers", type=int, default=10, help="progress sockets")
    parser.add_argument("--accounts", type=int, default=4, help="accounts the load signs in")
    parser.add_argument("--json", type=Path, help="write the verdicts and figures here")
    parser.add_argument("--echo", action="store_true", help="print the processes' output")
    return parser.parse_args(argv)


def table(verdicts: Sequence[Verdict]) -> str:
    """One block per scenario: verdict, reasons, and the figures that matter most."""
    lines = []
    for v in verdicts:
        f = v.figures
        if not f:
            lines += [f"{v.scenario}: FAILED", *(f"  reason: {r}" for r in v.reasons)]
            continue
        runs = f["runs"]
        statuses = ", ".join(f"{k} {n}" for k, n in runs.items() if k.isupper()) or "none"
        lines += [
            f"{v.scenario}: {'PASSED' if v.passed else 'FAILED'}",
            *(f"  reason: {reason}" for reason in v.reasons),
            f"  faults: {json.dumps(f['faults'])}",
            f"  runs: started {runs['started']} ({statuses}); closed within "
            f"{runs['close_wait_seconds']} s after the load",
            f"  effects: {json.dumps(f['effects'])}",
            f"  server errors: {f['server_errors']}; client errors: "
            f"{json.dumps(f['client_errors'])}",
            f"  recovery: {f['recovery_seconds']} s after the fault; supervisor restarts: "
            f"{json.dumps(f['supervisor_restarts'])}; errors after recovery: "
            f"{json.dumps(f['errors_after_recovery'])}",
            f"  subscriptions: {json.dumps(f['subscriptions'])}",
            f"  operations: {json.dumps(f['operations'])} at {f['achieved_rate']}/s "
            f"for {f['load_seconds']} s",
        ]
    return "\n".join(lines)


async def run_all(stack: ChaosStack, args: argparse.Namespace) -> list[Verdict]:
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    plan = RunPlan(
        outage=args.outage,
        seconds=args.seconds,
        rate=args.rate,
        subscribers=args.subscribers,
        warmup=min(5.0, args.seconds / 4),
    )
    verdicts = []
    target = await load_target(stack, args.accounts)
    for name in names:
        print(f"--- {name}: {plan}", flush=True)
        try:
            verdict = await run_scenario(stack, name, target, plan)
        except Exception as error:  # a scenario that cannot finish is a failed verdict
            verdict = Verdict(name, False, [f"the scenario did not finish: {error}"[:3000]], {})
        print(table([verdict]), flush=True)
        verdicts.append(verdict)
        await asyncio.to_thread(stack.heal)  # the next scenario starts on a whole platform
    return verdicts


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with ChaosStack(echo=args.echo) as stack:  # started before the loop: it blocks meanwhile
        verdicts = asyncio.run(run_all(stack, args))
    print("=== chaos verdicts\n" + table(verdicts))
    if args.json is not None:
        args.json.write_text(json.dumps([v.as_dict() for v in verdicts], indent=2) + "\n")
    return 0 if all(v.passed for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
