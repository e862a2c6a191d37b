"""Worker versioning on the dev server (services/common/worker_versioning.py,
docs/workflow-versioning.md): two worker versions of one deployment side by side on one task
queue, built by ``build_worker`` from settings (``ADX_WORKER_BUILD_ID``). A run started on v1
keeps running v1's code after v2 starts and becomes current; new runs go to v2."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.client import Client, WorkflowHandle

from services.common.settings import Settings
from services.common.temporal import build_worker
from services.common.worker_versioning import current_build_id, deployment_version, set_current
from tests.workflow.runs.runs_api import eventually
from tests.workflow.versioning.versioned_workflows import (
    VERSIONED,
    VersionedResult,
    VersionedV1,
    VersionedV2,
)


async def code_of(handle: WorkflowHandle[Any, VersionedResult]) -> str:
    async def answered() -> str:
        try:
            return str(await handle.query("code"))
        except Exception as error:  # not picked up by a worker yet
            raise AssertionError(str(error)) from error

    return await eventually(answered, timeout=30)


async def test_old_runs_finish_on_v1_while_new_runs_go_to_v2(
    temporal: Client, settings: Settings
) -> None:
    queue = f"versioning-{uuid.uuid4().hex[:8]}"
    v1 = settings.model_copy(update={"worker_build_id": "build-1"})
    v2 = settings.model_copy(update={"worker_build_id": "build-2"})
    version_1 = deployment_version(v1, queue)
    version_2 = deployment_version(v2, queue)
    assert version_1 is not None and version_2 is not None
    assert version_1.deployment_name == queue  # default: the task queue

    async with build_worker(temporal, v1, task_queue=queue, workflows=[VersionedV1]):
        await set_current(temporal, version_1, identity="versioning-test")
        old = await temporal.start_workflow(
            VERSIONED, id=f"{queue}-old", task_queue=queue, result_type=VersionedResult
        )
        assert await code_of(old) == "v1"

        async with build_worker(temporal, v2, task_queue=queue, workflows=[VersionedV2]):
            await set_current(temporal, version_2, identity="versioning-test")
            assert await current_build_id(temporal, queue) == "build-2"
            new = await temporal.start_workflow(
                VERSIONED, id=f"{queue}-new", task_queue=queue, result_type=VersionedResult
            )
            assert await code_of(new) == "v2"
            # The old run's next workflow tasks (a query, a signal) still run v1's code.
            assert await code_of(old) == "v1"
            await old.signal("finish")
            await new.signal("finish")
            assert await old.result() == VersionedResult("v1")
            assert await new.result() == VersionedResult("v2")
    pinned = (await old.describe()).raw_description.workflow_execution_info.versioning_info
    assert pinned.deployment_version.build_id == "build-1"


def test_an_unversioned_worker_has_no_deployment(settings: Settings) -> None:
    plain = settings.model_copy(update={"worker_build_id": None})
    assert deployment_version(plain, "adx-auth") is None
    named = settings.model_copy(
        update={"worker_build_id": "abc123", "worker_deployment_name": "adx-auth-deploy"}
    )
    version = deployment_version(named, "adx-auth")
    assert version is not None
    assert (version.deployment_name, version.build_id) == ("adx-auth-deploy", "abc123")
