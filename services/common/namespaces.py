"""Idempotent registration of the ADX Temporal namespaces and of the ADX search attributes in
each of them (``services/common/search_attributes.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from services.common.search_attributes import definitions
from services.common.settings import Settings
from services.common.temporal import connect_temporal

_KINDS = {"Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD}


async def register_namespaces(
    settings: Settings, names: Iterable[str], retention_days: int = 7
) -> dict[str, bool]:
    """Register each namespace; an existing one is left as it is. Returns name → newly created.
    The ADX search attributes are added to each one that lacks them."""
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
        await register_search_attributes(client, name)
    return created


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Add the ADX search attributes ``namespace`` lacks (a registered one is left as it is;
    a namespace that was just registered may take a moment to be visible, hence the retries).
    Returns the names added."""
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    have = set(listed.custom_attributes) | set(listed.system_attributes)
    missing = {name: _KINDS[kind] for name, kind in definitions().items() if name not in have}
    if not missing:
        return []
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(search_attributes=missing, namespace=namespace)
        )
    except RPCError as error:
        if error.status != RPCStatusCode.ALREADY_EXISTS:
            raise
    return sorted(missing)
