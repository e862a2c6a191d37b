"""Replay tests: committed histories must replay against today's workflow code; a tampered
history must be rejected as non-deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from workflows.auth.user_registration import UserRegistrationWorkflow

HISTORIES = Path(__file__).parent / "histories"
WORKFLOWS = [UserRegistrationWorkflow]


def load(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"replay-{name}", (HISTORIES / name).read_text())


@pytest.mark.parametrize("name", ["user_registration.json"])
async def test_committed_history_replays(name: str) -> None:
    await Replayer(workflows=WORKFLOWS).replay_workflow(load(name))


def tamper(history_json: str) -> str:
    """Swap the first scheduled activity for another one, as a careless code change would."""
    history = json.loads(history_json)
    for event in history["events"]:
        attributes = event.get("activityTaskScheduledEventAttributes")
        if attributes:
            attributes["activityType"]["name"] = "user.create_profile"
            return json.dumps(history)
    raise AssertionError("history has no scheduled activity to tamper with")


def test_committed_broken_history_is_the_tampered_one() -> None:
    good = (HISTORIES / "user_registration.json").read_text()
    broken = (HISTORIES / "user_registration.broken.json").read_text()
    assert json.loads(broken) == json.loads(tamper(good))


async def test_broken_history_is_rejected() -> None:
    with pytest.raises(NondeterminismError):
        await Replayer(workflows=WORKFLOWS).replay_workflow(load("user_registration.broken.json"))
