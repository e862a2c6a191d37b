"""Replay tests: every committed history in ``tests/histories`` must replay against today's
workflow code; every ``*.broken.json`` must be rejected as non-deterministic.

Add a workflow's history by dropping ``<workflow>.json`` (and a tampered ``.broken.json``) here;
record with ``ADX_RECORD_HISTORIES=1`` (see docs/workflow-versioning.md).
"""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from services.auth.service import SPEC as AUTH
from services.common.codec import data_converter
from services.common.settings import Settings
from services.file.service import SPEC as FILE
from services.tenant.service import SPEC as TENANT
from services.user.service import SPEC as USER
from services.workflow.service import SPEC as WORKFLOW
from tests.history_files import HISTORIES
from tests.support import TEST_PAYLOAD_KEYS

WORKFLOWS = [w for spec in (AUTH, USER, TENANT, FILE, WORKFLOW) for w in spec.workflows]
# Histories are recorded with the fixed test payload key, so they decrypt here.
CONVERTER = data_converter(Settings(payload_keys=TEST_PAYLOAD_KEYS))  # type: ignore[arg-type]
GOOD = sorted(p.name for p in HISTORIES.glob("*.json") if not p.name.endswith(".broken.json"))
BROKEN = sorted(p.name for p in HISTORIES.glob("*.broken.json"))


def load(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"replay-{name}", (HISTORIES / name).read_text())


def test_every_workflow_has_a_history_and_a_broken_one() -> None:
    names = {w.__temporal_workflow_definition.name for w in WORKFLOWS}  # type: ignore[attr-defined]
    recorded = {name.split(".")[0] for name in GOOD}
    assert names <= recorded, f"workflows without a replay history: {names - recorded}"
    assert {n.removesuffix(".broken.json") for n in BROKEN} >= names


@pytest.mark.parametrize("name", GOOD)
async def test_committed_history_replays(name: str) -> None:
    await Replayer(workflows=WORKFLOWS, data_converter=CONVERTER).replay_workflow(load(name))


@pytest.mark.parametrize("name", BROKEN)
async def test_broken_history_is_rejected(name: str) -> None:
    with pytest.raises(NondeterminismError):
        await Replayer(workflows=WORKFLOWS, data_converter=CONVERTER).replay_workflow(load(name))
