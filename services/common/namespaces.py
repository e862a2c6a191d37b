"""Idempotent registration of the ADX Temporal namespaces."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.service import RPCError, RPCStatusCode

from services.common.settings import Settings
from services.common.temporal import connect_temporal


async def register_namespaces(
    settings: Settings, names: Iterable[str], retention_days: int = 7
) -> dict[str, bool]:
    """Register each namespace; an existing one is left as it is. Returns name → newly created."""
    client = await connect_temporal(settings)
    retention = Duration()
    retention.FromTimedelta(timedelta(days=retention_days))
    created: dict[str, bool] = {}
    for name in names:
        try:
            await client.workflow_service.register_namespace(
                RegisterNamespaceRequest(
                    namespace=name, workflow_execution_retention_period=retention
                )
            )
            created[name] = True
        except RPCError as error:
            if error.status != RPCStatusCode.ALREADY_EXISTS:
                raise
            created[name] = False
    return created
