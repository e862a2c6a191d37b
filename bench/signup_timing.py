"""Sign-up answer time for a new address, one with a sign-up pending and one with an account.

Issue 6, finding 7: the answer took ~500-600 ms for a new address, ~90 ms for an existing
account and ~43 ms for a pending registration, so timing told them apart. Since every sign-up
does the same work before answering (validate, hash, start a new run) and everything that
depends on the address happens in the run afterwards, the three should be indistinguishable.

This measures ``POST /auth/register`` on a real ``python -m services.auth --mode both`` process
(its worker runs the sign-up runs, mails go to the outbox) against fresh infrastructure
(``bench.infra``): sequential requests on one kept-alive connection, the three states
interleaved in a shuffled order each round so a drift in the machine's speed hits all alike,
after an uncounted warm-up. It prints the medians (and p10/p90) per state in JSON and whether
every median is within ``--tolerance`` (20 %) of the others (max/min - 1). It is a benchmark,
not a test: it asserts nothing (exit 0 either way) unless ``--check`` is given.

    make bench-signup                       # = .venv/bin/python -m bench.signup_timing
    .venv/bin/python -m bench.signup_timing --rounds 60 --json signup.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.infra import (
    BenchInfra,
    create_verified_accounts,
    infrastructure,
    start_auth_service,
)

PASSWORD = "a long enough bench password"  # noqa: S105 - a bench account's
STATES = ("new", "pending", "existing")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40, help="sign-ups per state (counted)")
    parser.add_argument("--warmup", type=int, default=5, help="uncounted rounds first")
    parser.add_argument("--tolerance", type=float, default=0.20, help="allowed median spread")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--check", action="store_true", help="exit 1 when out of tolerance")
    return parser.parse_args(argv)


def address(kind: str) -> str:
    return f"signup-{kind}-{uuid.uuid4().hex[:16]}@example.com"


async def sign_up(client: httpx.AsyncClient, email: str) -> float:
    """Seconds until ``POST /auth/register`` answered (202 expected)."""
    body = {"email": email, "password": PASSWORD, "display_name": "Bench"}
    started = time.perf_counter()
    answer = await client.post("/auth/register", json=body)
    elapsed = time.perf_counter() - started
    if answer.status_code != 202:
        raise SystemExit(f"sign-up answered {answer.status_code}: {answer.text}")
    return elapsed


async def measure(infra: BenchInfra, url: str, args: argparse.Namespace) -> dict[str, list[float]]:
    total = args.rounds + args.warmup
    existing = await create_verified_accounts(infra, total, PASSWORD, lambda _: address("existing"))
    pending = [address("pending") for _ in range(total)]
    samples: dict[str, list[float]] = {state: [] for state in STATES}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for email in pending:  # each of these addresses now has a sign-up run waiting
            await sign_up(client, email)
        await asyncio.sleep(2)  # let the worker mail them, as a real pending address would be
        order = random.Random(7)  # noqa: S311 - an order, not a secret
        for round_ in range(total):
            states = list(STATES)
            order.shuffle(states)
            for state in states:
                email = {
                    "new": address("new"),
                    "pending": pending[round_],
                    "existing": existing[round_],
                }[state]
                elapsed = await sign_up(client, email)
                if round_ >= args.warmup:
                    samples[state].append(elapsed)
    return samples


def summary(samples: dict[str, list[float]], tolerance: float) -> dict[str, Any]:
    def ms(value: float) -> float:
        return round(1000 * value, 1)

    per_state = {}
    for state, values in samples.items():
        deciles = statistics.quantiles(values, n=10)
        per_state[state] = {
            "n": len(values),
            "median_ms": ms(statistics.median(values)),
            "p10_ms": ms(deciles[0]),
            "p90_ms": ms(deciles[-1]),
        }
    medians = [figures["median_ms"] for figures in per_state.values()]
    spread = max(medians) / min(medians) - 1
    return {
        "endpoint": "POST /auth/register",
        "states": per_state,
        "median_spread": round(spread, 3),
        "tolerance": tolerance,
        "within_tolerance": spread <= tolerance,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with infrastructure() as infra:
        print(f"infrastructure up: database {infra.database}", file=sys.stderr)
        process, url = start_auth_service(infra, mode="both")
        try:
            samples = asyncio.run(measure(infra, url, args))
        finally:
            process.stop()
    figures = summary(samples, args.tolerance)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")
    return 1 if args.check and not figures["within_tolerance"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
