"""Mixed traffic at a fixed rate through the gateway, for a bounded time, with latency
percentiles and error classes per kind (``make load``, or ``python -m bench.mixed_load --rate 20
--seconds 60 [--json out.json]``; issue 13). A library first: chaos scenarios run it while they
kill processes (``async with MixedLoad(target, rate=20) as load: ...; load.report()``).

Kinds, in the proportions of a ``Mix`` (smooth weighted round-robin: exact, not random):

- ``login``: the ``login`` mutation (argon2id verification, a new session) of an account into
  its tenant; the access token it answers is the one the account's later operations use;
- ``query``: direct-call reads in turn: ``me { profile }`` (user service), ``tenants`` and
  ``members`` (tenant service), ``files`` (file service);
- ``workflow``: ``createTenant`` with a new slug ``ml-<load>-<n>`` (``tenant_provisioning``,
  about ten activities over four services): a run and a tenant row per operation, both
  countable afterwards (``started_runs``);
- ``subscribe``: the next started run nobody followed yet (else the latest) followed over
  graphql-transport-ws ``workflowProgress`` until its final status, on one of ``subscribers``
  sockets that reconnect and resume when dropped (``bench/progress_sockets.py``); its latency
  is until the run's first state arrived, it succeeds when the end was seen.

Arrivals are on the schedule whatever the answers (``bench.load.fixed_rate``); a latency runs
from when the operation was due, so queueing is not hidden; each HTTP operation has a timeout.
Not a test: it measures and reports (``bench/load_report.py``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from bench.clients import RawPoster
from bench.infra import infrastructure
from bench.load import Pool, fixed_rate
from bench.load_accounts import LOGIN, Account, prepare_accounts, sign_in
from bench.load_report import (
    Failed,
    KindStats,
    LoadReport,
    checked,
    count_server_errors,
    error_class,
)
from bench.progress_sockets import ProgressSockets
from bench.tenant_create import start_stack
from services.common.settings import ServiceName
from workflows.tenant.tenant_provisioning import tenant_provisioning_workflow_id

__all__ = [
    "DEFAULT_MIX",
    "Account",
    "LoadReport",
    "LoadTarget",
    "Mix",
    "MixedLoad",
    "prepare_accounts",
    "run_mixed_load",
]

#: How long a ``subscribe`` may follow its run: provisioning runs queue behind each other when
#: the workers fall behind (at 10/s with the default mix on a loaded 2-core machine they took
#: about 65 s each), and a follow that gives up early is reported as a failure.
FOLLOW_SECONDS = 300.0
#: Kept-alive connections idle longer are opened afresh (uvicorn closes them after 5 s).
KEEP_ALIVE_SECONDS = 4.0
CREATE_TENANT = """mutation($i: CreateTenantInput!) {
  createTenant(input: $i) { id accessToken }
}"""
#: The ``query`` kind's reads, in turn: (document, variables of an account).
QUERIES: tuple[tuple[str, Callable[[Account], dict[str, Any]]], ...] = (
    ("{ me { userId tenantId profile { displayName } } }", lambda a: {}),
    ("{ tenants { id slug } }", lambda a: {}),
    (
        "query($t: ID!) { members(tenantId: $t, first: 10) { edges { node { userId role } } } }",
        lambda a: {"t": a.tenant_id},
    ),
    ("{ files(first: 10) { edges { node { id } } } }", lambda a: {}),
)


@dataclass(frozen=True)
class Mix:
    """Relative weights of the operation kinds (a weight of 0 leaves a kind out)."""

    login: float = 1.0
    query: float = 6.0
    workflow: float = 2.0
    subscribe: float = 1.0

    def weights(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def parse(cls, text: str) -> Mix:
        """``login=1,query=6,workflow=2,subscribe=1`` (kinds left out weigh 0)."""
        weights = {f.name: 0.0 for f in fields(cls)}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, value = part.partition("=")
            if name.strip() not in weights:
                raise ValueError(f"unknown kind {name.strip()!r} (kinds: {', '.join(weights)})")
            weights[name.strip()] = float(value)
        return cls(**weights)


DEFAULT_MIX = Mix()


class RoundRobin:
    """Smooth weighted round-robin: every pick, each kind gains its weight and the richest is
    picked and pays the total; over any window the counts follow the weights closely."""

    def __init__(self, weights: dict[str, float]) -> None:
        self._weights = {k: w for k, w in weights.items() if w > 0}
        if not self._weights or any(w < 0 or math.isnan(w) for w in weights.values()):
            raise ValueError(f"a mix needs a positive weight and none negative: {weights}")
        self._total = sum(self._weights.values())
        self._credit = dict.fromkeys(self._weights, 0.0)

    def next(self) -> str:
        for kind, weight in self._weights.items():
            self._credit[kind] += weight
        kind = max(self._credit, key=self._credit.__getitem__)
        self._credit[kind] -= self._total
        return kind


@dataclass(frozen=True)
class LoadTarget:
    gateway_url: str  # e.g. "http://127.0.0.1:8080" (GraphQL at /graphql, ws too)
    accounts: Sequence[Account]  # verified accounts able to sign in, each with its tenant

    @property
    def ws_url(self) -> str:
        base = self.gateway_url.rstrip("/")
        return base.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/graphql"


class MixedLoad:
    """Fixed-rate mixed traffic from ``__aenter__`` (after signing every account in) until
    ``__aexit__``, which stops the arrivals and waits for the operations in flight (a follow at
    most ``follow_timeout`` seconds). ``report()`` is a snapshot at any time."""

    def __init__(
        self,
        target: LoadTarget,
        *,
        rate: float,
        mix: Mix = DEFAULT_MIX,
        subscribers: int = 10,
        timeout: float = 10.0,
        follow_timeout: float = FOLLOW_SECONDS,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be positive, not {rate}")
        if not target.accounts:
            raise ValueError("a load needs at least one account")
        self.target = target
        self.rate = rate
        self.timeout = timeout
        self.follow_timeout = follow_timeout
        self._picker = RoundRobin(mix.weights())
        self._stats = {kind: KindStats() for kind, w in mix.weights().items() if w > 0}
        self._turns = {kind: itertools.count() for kind in self._stats}
        self._tag = uuid.uuid4().hex[:8]
        self._tokens: dict[str, str] = {}
        self._runs: list[str] = []
        self._slugs: list[str] = []
        self._run_tokens: dict[str, str | None] = {}
        self._unfollowed: deque[str] = deque()
        self._pool = Pool(lambda: RawPoster(target.gateway_url, max_idle=KEEP_ALIVE_SECONDS))
        self._sockets = ProgressSockets(target.ws_url, subscribers)
        self._arrived = 0
        self._first: float | None = None
        self._end = math.inf
        self._stopped: float | None = None
        self._traffic: asyncio.Task[int] | None = None
        self._ops: dict[str, Callable[[Account, int], Coroutine[Any, Any, None]]] = {
            "login": self._login,
            "query": self._query,
            "workflow": self._workflow,
        }

    @property
    def started_runs(self) -> list[str]:
        """Workflow ids of every run a ``workflow`` operation started, in order."""
        return list(self._runs)

    @property
    def attempted_runs(self) -> list[str]:
        """Workflow ids of every ``workflow`` operation sent, answered or not: a start whose
        answer was lost (a timeout, a killed gateway) may still have started its run."""
        return [tenant_provisioning_workflow_id(slug) for slug in self._slugs]

    async def __aenter__(self) -> MixedLoad:
        url = f"{self.target.gateway_url.rstrip('/')}/graphql"
        async with httpx.AsyncClient(timeout=60) as client:
            tokens = await asyncio.gather(
                *(
                    sign_in(client, url, a.email, a.password, a.tenant_id)
                    for a in self.target.accounts
                )
            )
        self._tokens = {a.user_id: t for a, t in zip(self.target.accounts, tokens, strict=True)}
        self._first = time.perf_counter() + 0.01
        self._traffic = asyncio.create_task(
            fixed_rate(self.rate, self._arrive, first=self._first, end=lambda: self._end)
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopped = self._end = time.perf_counter()
        try:
            if self._traffic is not None:
                if exc_type is not None:
                    self._traffic.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._traffic
                else:
                    await self._traffic
        finally:
            await self._sockets.close()
            await self._pool.close()

    def report(self) -> LoadReport:
        now = self._stopped or time.perf_counter()
        seconds = max(0.0, now - self._first) if self._first is not None else 0.0
        kinds = {kind: stats.report() for kind, stats in self._stats.items()}
        subscriptions = self._sockets.report()
        return LoadReport(
            seconds=round(seconds, 3),
            rate=self.rate,
            achieved_rate=round(self._arrived / seconds, 3) if seconds > 0 else 0.0,
            kinds=kinds,
            subscriptions=subscriptions,
            started_runs=len(self._runs),
            server_errors=count_server_errors(
                subscriptions.interruptions, *(k.errors for k in kinds.values())
            ),
        )

    async def _arrive(self, _: int, due: float) -> None:
        kind = self._picker.next()
        self._arrived += 1
        stats = self._stats[kind]
        turn = next(self._turns[kind])
        operation: Coroutine[Any, Any, float | None]
        if kind == "subscribe":
            if (run_id := self._next_to_follow()) is None:
                stats.skipped += 1
                return
            operation = self._follow(run_id)
        else:
            accounts = self.target.accounts
            operation = self._ops[kind](accounts[turn % len(accounts)], turn)
        stats.sent += 1
        try:
            answered = await operation
        except Exception as error:  # every failure is reported, and the load goes on
            stats.errors[error_class(error)] += 1
        else:
            stats.done((answered or time.perf_counter()) - due)

    async def _post(
        self, query: str, variables: dict[str, Any], token: str | None
    ) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables}).encode()
        headers = {"authorization": f"Bearer {token}"} if token else None
        poster = self._pool.take()
        try:
            async with asyncio.timeout(self.timeout):
                status, answer = await poster.post("/graphql", body, headers)
        except Exception:
            await self._pool.broken(poster)  # cut mid-answer: opened again on its next use
            raise
        self._pool.give(poster)
        return checked(status, answer)

    async def _login(self, account: Account, _: int) -> None:
        variables = {
            "i": {
                "email": account.email,
                "password": account.password,
                "tenantId": account.tenant_id,
            }
        }
        data = await self._post(LOGIN, variables, None)
        self._tokens[account.user_id] = data["login"]["tokens"]["accessToken"]

    async def _query(self, account: Account, turn: int) -> None:
        query, variables = QUERIES[turn % len(QUERIES)]
        await self._post(query, variables(account), self._tokens[account.user_id])

    async def _workflow(self, account: Account, turn: int) -> None:
        slug = f"ml-{self._tag}-{turn}"
        self._slugs.append(slug)
        variables = {"i": {"slug": slug, "name": f"Load {slug}"}}
        data = await self._post(CREATE_TENANT, variables, self._tokens[account.user_id])
        run = data["createTenant"]
        self._runs.append(run["id"])
        self._run_tokens[run["id"]] = run.get("accessToken")
        self._unfollowed.append(run["id"])

    def _next_to_follow(self) -> str | None:
        """The oldest started run nobody followed yet, else the latest; None before any."""
        if self._unfollowed:
            return self._unfollowed.popleft()
        return self._runs[-1] if self._runs else None

    async def _follow(self, run_id: str) -> float:
        """When the run's first state arrived, once its end was seen; ``Failed`` else."""
        follow = await self._sockets.follow(run_id, self._run_tokens[run_id], self.follow_timeout)
        if follow.final is None or follow.first_event is None:
            raise Failed(follow.last_error or "timeout", f"the end of {run_id} was not seen")
        return follow.first_event


async def run_mixed_load(
    target: LoadTarget,
    *,
    rate: float,
    seconds: float,
    mix: Mix = DEFAULT_MIX,
    subscribers: int = 10,
    op_timeout: float = 10.0,
    follow_timeout: float = FOLLOW_SECONDS,
) -> LoadReport:
    """``seconds`` of arrivals, then the operations in flight (each HTTP one at most
    ``op_timeout`` s, a follow ``follow_timeout`` s); their report."""
    load = MixedLoad(
        target,
        rate=rate,
        mix=mix,
        subscribers=subscribers,
        timeout=op_timeout,
        follow_timeout=follow_timeout,
    )
    async with load:
        await asyncio.sleep(seconds)
    return load.report()


# -- command line --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="operations per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long arrivals go on")
    parser.add_argument(
        "--mix",
        type=Mix.parse,
        default=DEFAULT_MIX,
        help="weights, e.g. login=1,query=6,workflow=2,subscribe=1 (the default)",
    )
    parser.add_argument("--accounts", type=int, default=10, help="accounts the load rotates over")
    parser.add_argument("--subscribers", type=int, default=10, help="graphql-transport-ws sockets")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per HTTP operation")
    parser.add_argument(
        "--follow-timeout",
        type=float,
        default=FOLLOW_SECONDS,
        help="seconds a subscription may follow its run",
    )
    parser.add_argument("--json", type=Path, help="also write the report to this file")
    parser.add_argument(
        "--gateway-url", help="aim at a running stack (e.g. make run: http://127.0.0.1:8080)"
    )
    parser.add_argument(
        "--database-url", help="that stack's database (ADX_DATABASE_URL), for the accounts"
    )
    args = parser.parse_args(argv)
    if bool(args.gateway_url) != bool(args.database_url):
        parser.error("--gateway-url and --database-url go together")
    return args


async def _measure(gateway_url: str, database_url: str, args: argparse.Namespace) -> LoadReport:
    print(f"preparing {args.accounts} accounts, each with a tenant ...", flush=True)
    accounts = await prepare_accounts(gateway_url, database_url, args.accounts)
    print(f"{args.seconds:g} s at {args.rate:g}/s through {gateway_url} ...", flush=True)
    return await run_mixed_load(
        LoadTarget(gateway_url, accounts),
        rate=args.rate,
        seconds=args.seconds,
        mix=args.mix,
        subscribers=args.subscribers,
        op_timeout=args.timeout,
        follow_timeout=args.follow_timeout,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.gateway_url:
        report = asyncio.run(_measure(args.gateway_url, args.database_url, args))
    else:
        with infrastructure() as infra:
            print("starting the gateway and the five services ...", flush=True)
            ports = start_stack(infra)  # the gateway and all five services, HTTP and workers
            url = f"http://127.0.0.1:{ports[ServiceName.gateway]}"
            report = asyncio.run(_measure(url, infra.settings().database_url, args))
    figures = {
        "bench": "mixed_load",
        **report.as_dict(),
        "mix": args.mix.weights(),
        "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
    }
    print(report.table())
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 1 if report.server_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
