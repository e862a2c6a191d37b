"""Worker versioning (docs/workflow-versioning.md): a worker with ``ADX_WORKER_BUILD_ID`` is one
version of its worker deployment (``ADX_WORKER_DEPLOYMENT_NAME``, default its task queue). New
runs go to the deployment's current version; a run started on a version stays on it (pinned)
until it closes, so old code drains its runs while the new code takes the new ones."""

from __future__ import annotations

import asyncio

from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.service import RPCError
from temporalio.worker import WorkerDeploymentConfig

from services.common.logging import get_logger
from services.common.settings import Settings

_log = get_logger(__name__)

BEHAVIORS = {
    "pinned": VersioningBehavior.PINNED,
    "auto_upgrade": VersioningBehavior.AUTO_UPGRADE,
}


def deployment_version(settings: Settings, task_queue: str) -> WorkerDeploymentVersion | None:
    """This worker's version, or None when it is unversioned (no build id)."""
    if settings.worker_build_id is None:
        return None
    return WorkerDeploymentVersion(
        deployment_name=settings.worker_deployment_name or task_queue,
        build_id=settings.worker_build_id,
    )


def deployment_config(settings: Settings, task_queue: str) -> WorkerDeploymentConfig | None:
    version = deployment_version(settings, task_queue)
    if version is None:
        return None
    return WorkerDeploymentConfig(
        version=version,
        use_worker_versioning=True,
        default_versioning_behavior=BEHAVIORS[settings.worker_versioning_behavior],
    )


async def current_build_id(client: Client, deployment_name: str) -> str | None:
    """The build id of the deployment's current version (None: none yet, or no deployment)."""
    try:
        answer = await client.workflow_service.describe_worker_deployment(
            DescribeWorkerDeploymentRequest(
                namespace=client.namespace, deployment_name=deployment_name
            )
        )
    except RPCError:
        return None
    current = answer.worker_deployment_info.routing_config.current_deployment_version
    return current.build_id or None


async def set_current(
    client: Client,
    version: WorkerDeploymentVersion,
    *,
    identity: str = "adx-worker",
    attempts: int = 60,
    interval_seconds: float = 0.5,
) -> None:
    """Make ``version`` its deployment's current one. Temporal knows a version only once one of
    its workers has polled, so this retries (``attempts`` times, ``interval_seconds`` apart) until then."""
    for attempt in range(1, attempts + 1):
        try:
            await client.workflow_service.set_worker_deployment_current_version(
                SetWorkerDeploymentCurrentVersionRequest(
                    namespace=client.namespace,
                    deployment_name=version.deployment_name,
                    build_id=version.build_id,
                    identity=identity,
                )
            )
        except RPCError as error:
            if attempt == attempts:
                raise
            _log.debug("worker_version_not_yet_known", error=str(error), attempt=attempt)
            await asyncio.sleep(interval_seconds)
        else:
            _log.info(
                "worker_version_current",
                deployment=version.deployment_name,
                build_id=version.build_id,
            )
            return
