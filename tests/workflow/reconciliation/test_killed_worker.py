"""A killed worker mid-run: the workflow service's worker running ``data_migration`` (its own
process, ``python -m services.workflow --mode worker``) is killed with SIGKILL while the run's
third batch is being read; a new worker process takes the run over from its history. The run
completes with the right counts and no batch is read or compared twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from temporalio.client import Client

from services.auth.service import SPEC as AUTH
from services.common.data_migration import start_data_migration
from services.common.resources import Resources
from services.common.settings import ServiceName, Settings
from services.file.service import SPEC as FILE
from services.tenant.reconciliation.activities import MemberTruthActivities
from services.tenant.service import SPEC as TENANT
from services.user.reconciliation.activities import DirectoryReconciliationActivities
from services.user.service import SPEC as USER
from tests.auth.users import AuthUser
from tests.support import ROOT, Infra
from tests.workers import running_workers
from tests.workflow.reconciliation.members import Stack, add_member, provisioned, remove_entry
from workflows.reconciliation.contracts import (
    COMPARE_DIRECTORY,
    READ_MEMBERS,
    CompareInput,
    CompareOutput,
    ReadMembersInput,
    ReadMembersOutput,
)
from workflows.reconciliation.data_migration import DataMigrationInput

#: Two worker processes start in this test (each imports the whole workflow service).
pytestmark = pytest.mark.timeout(600)


@contextmanager
def workflow_worker(infra: Infra, prefix: str) -> Iterator[subprocess.Popen[bytes]]:
    """The workflow service's worker alone, as its own process on ``prefix``."""
    env = {**os.environ, **infra.env, "ADX_TASK_QUEUE_PREFIX": prefix}
    log = (infra.data_dir / f"workflow-worker-{prefix}.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.workflow", "--mode", "worker"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        log.close()


async def test_a_killed_worker_hands_the_run_to_a_new_one(
    temporal: Client,
    infra: Infra,
    settings: Settings,
    auth_resources: Resources,
    tenant_resources: Resources,
    user_resources: Resources,
    file_resources: Resources,
    user: AuthUser,
) -> None:
    owner = MemberTruthActivities(tenant_resources)
    directory = DirectoryReconciliationActivities(user_resources)
    reads: list[str] = []
    compares: list[str] = []
    third_read, go_on = asyncio.Event(), asyncio.Event()

    @READ_MEMBERS.implement
    async def read(input: ReadMembersInput) -> ReadMembersOutput:
        reads.append(input.after)
        if len(reads) == 3:
            third_read.set()
            await go_on.wait()  # the worker that scheduled this is killed meanwhile
        return await owner.reconcile_read_members(input)

    @COMPARE_DIRECTORY.implement
    async def compare(input: CompareInput) -> CompareOutput:
        compares.append(input.after)
        return await directory.reconcile_directory(input)

    prefix = f"kw{uuid.uuid4().hex[:8]}"
    services = (
        (AUTH, auth_resources),
        (TENANT, tenant_resources),
        (FILE, file_resources),
        (USER, user_resources),
    )
    replace: dict[str, Callable[..., Any]] = {
        READ_MEMBERS.name: read,
        COMPARE_DIRECTORY.name: compare,
    }
    async with running_workers(settings, services, prefix, replace) as local:
        stack = Stack(
            tenant=local.task_queue(ServiceName.tenant),
            workflow=local.task_queue(ServiceName.workflow),
            auth=auth_resources,
            tenants=tenant_resources,
            users=user_resources,
        )
        tenant_id = await provisioned(temporal, stack, user.id)
        members = [await add_member(stack, tenant_id) for _ in range(5)]
        for gone in members[:2]:
            await remove_entry(stack, tenant_id, gone)

        with workflow_worker(infra, prefix) as first:
            handle = await start_data_migration(
                temporal,
                DataMigrationInput(
                    str(tenant_id), copies=["directory"], batch_size=2, requested_by="test"
                ),
                task_queue=stack.workflow,
            )
            await asyncio.wait_for(third_read.wait(), timeout=300)
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=30)
        go_on.set()  # the read completes into the history with no worker to see it
        with workflow_worker(infra, prefix):
            result = await asyncio.wait_for(handle.result(), timeout=240)

    report = result.reports[0]
    # owner + 5 members = 6 memberships: batches of 2 after "", m2, m4, then the empty end
    assert (report.missing, report.extra, report.stale) == (2, 0, 0), report
    assert report.total == 6 and report.checked == 6 and report.done
    assert len(reads) == len(set(reads)) == 4, f"a batch was read twice: {reads}"
    assert len(compares) == len(set(compares)) == 4, f"a batch was compared twice: {compares}"
