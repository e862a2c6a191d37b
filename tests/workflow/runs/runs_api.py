"""Helpers of the run management tests: callers with access tokens minted by the auth runtime's
issuer (as ``tests/tenant/http/tenant_api.py`` mints them, with the ``perms`` claim added), the
workflow app in-process, probe runs started as a given caller (so they carry that caller's
search attributes), and a wait for the visibility store to catch up."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import httpx
from fastapi import FastAPI
from temporalio.client import WorkflowHandle

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.common.tokens import publish_jwks
from tests.in_process import in_process_client
from tests.workflow.runs.probe_workflows import PROBE, ProbeInput

T = TypeVar("T")
READ = ("workflows.read",)
MANAGE = ("workflows.read", "workflows.manage")


@dataclass(frozen=True)
class Caller:
    user_id: uuid.UUID
    tenant_id: uuid.UUID | None
    permissions: tuple[str, ...] = ()


@dataclass
class RunsApi:
    app: FastAPI
    runtime: AuthRuntime
    resources: Resources
    queue: str
    operator: uuid.UUID

    def token(self, caller: Caller) -> str:
        return self.runtime.issuer.access_token(
            user_id=str(caller.user_id),
            session_id=str(uuid.uuid4()),
            tenant_id=str(caller.tenant_id) if caller.tenant_id else None,
            roles=[],
            auth_methods=["pwd"],
            permissions=caller.permissions,
        )

    async def publish_keys(self) -> None:
        """The auth keys where the workflow service reads them (Redis), as auth publishes them."""
        await publish_jwks(
            self.resources.redis,
            self.resources.redis_keys,
            "workflow-runs-tests",
            self.runtime.keys.jwks(),
        )

    @asynccontextmanager
    async def client(self, caller: Caller) -> AsyncIterator[httpx.AsyncClient]:
        await self.publish_keys()
        async with in_process_client(self.app, base_url="http://workflow") as client:
            client.headers["authorization"] = f"Bearer {self.token(caller)}"
            yield client

    def operator_caller(self) -> Caller:
        return Caller(self.operator, None)

    async def start(
        self, caller: Caller, mode: str, *, label: str = "", workflow_id: str | None = None
    ) -> WorkflowHandle[object, object]:
        """A probe run started by ``caller`` (their security context: tenant and user ids
        become the run's search attributes)."""
        context = SecurityContext.for_user(
            str(caller.user_id), tenant_id=str(caller.tenant_id) if caller.tenant_id else None
        )
        with acting_as(context):
            return await self.resources.temporal.start_workflow(
                PROBE,
                ProbeInput(mode=mode, label=label or mode),
                id=workflow_id or f"probe-{mode}-{uuid.uuid4().hex[:10]}",
                task_queue=self.queue,
            )


async def eventually(
    check: Callable[[], Awaitable[T]], *, timeout: float = 15.0, interval: float = 0.2
) -> T:
    """``check()``'s value once it stops raising ``AssertionError`` (visibility lags a little)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(interval)
