"""Helpers of the sharing tests: the file service (app and worker) and the tenant service's
worker on one task-queue prefix of their own (``file_sharing`` asks the tenant service who a
share reaches), over the session's real PostgreSQL, Redis and Temporal; mails recorded; a
tenant seeded with members (and their addresses) in the tenant service's tables."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import update
from temporalio.client import WorkflowHandle

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import Settings
from services.file.service import SPEC as FILE_SPEC
from services.file.sharing.activities import SharingActivities
from services.tenant.service import SPEC as TENANT_SPEC
from storage.db import transaction
from storage.files.models import FileShare
from storage.files.shares import ShareRepository
from storage.tenants.models import Membership
from tests.file.file_api import FileApi
from tests.in_process import in_process_client
from tests.tenant.http.tenant_api import RecordingMailer, Seeded, seed_tenant
from tests.workers import running_workers
from workflows.file.file_sharing import FileSharingResult, FileSharingWorkflow
from workflows.tenant.permissions import built_in_permissions

READ_WRITE_SHARE = ("files.read", "files.write", "files.share")


@dataclass
class People:
    """A seeded tenant: ``owner`` and the members by label, with their addresses."""

    tenant: Seeded
    emails: dict[str, str]

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.tenant.id

    def user(self, label: str) -> uuid.UUID:
        return self.tenant.owner if label == "owner" else self.tenant.members[label]


@dataclass
class ShareStack:
    files: FileApi
    tenant_resources: Resources
    mailer: RecordingMailer

    @property
    def resources(self) -> Resources:
        return self.files.resources

    def token(
        self,
        tenant_id: uuid.UUID,
        user_id: uuid.UUID,
        role: str = "member",
        permissions: tuple[str, ...] | None = None,
    ) -> str:
        """An access token as the auth service mints one: the role in the tenant and its
        permissions (a built-in role's unless given)."""
        perms = permissions
        if perms is None:
            perms = tuple(sorted(p.value for p in built_in_permissions(role) or ()))
        return self.files.runtime.issuer.access_token(
            user_id=str(user_id),
            session_id=str(uuid.uuid4()),
            tenant_id=str(tenant_id),
            roles=[role],
            auth_methods=["pwd"],
            permissions=perms,
        )

    @asynccontextmanager
    async def client(self, token: str | None) -> AsyncIterator[httpx.AsyncClient]:
        await self.files.publish_keys()
        async with in_process_client(self.files.app, base_url="http://file") as client:
            if token is not None:
                client.headers["authorization"] = f"Bearer {token}"
            yield client

    async def seed(self, roles: dict[str, str]) -> People:
        tenant = await seed_tenant(self.tenant_resources.database, roles=roles)
        emails = {label: f"{label}-{tenant.id.hex[:8]}@example.test" for label in ["owner", *roles]}
        async with transaction(self.tenant_resources.database, tenant.id) as db:
            for label, address in emails.items():
                user = tenant.owner if label == "owner" else tenant.members[label]
                await db.execute(
                    update(Membership)
                    .where(Membership.tenant_id == tenant.id, Membership.user_id == user)
                    .values(email=address)
                )
        return People(tenant, emails)

    async def ready_file(
        self, client: httpx.AsyncClient, name: str = "plan.txt", data: bytes = b"the plan\n"
    ) -> str:
        answer = await self.files.upload(client, name, data)
        assert answer.status_code == 202, answer.text
        file_id: str = answer.json()["file"]["id"]
        settled = await self.files.settled(client, file_id)
        assert settled["status"] == "ready", settled
        return file_id

    async def share(
        self, client: httpx.AsyncClient, file_id: str, **body: Any
    ) -> tuple[str, dict[str, Any]]:
        """Share and wait for the run's creation and mail (its result, or the run's id for a
        share that waits for its expiry)."""
        answer = await client.post(f"/files/{file_id}/shares", json=body)
        assert answer.status_code == 202, answer.text
        started: dict[str, Any] = answer.json()
        return started["share_id"], started

    def handle(self, workflow_id: str) -> WorkflowHandle[Any, FileSharingResult]:
        return self.resources.temporal.get_workflow_handle_for(FileSharingWorkflow.run, workflow_id)

    async def result(self, workflow_id: str) -> FileSharingResult:
        return await self.handle(workflow_id).result()

    async def wait_for(self, workflow_id: str, state: str) -> None:
        """Until the run's progress says ``state`` (``waiting``: the share made and mailed)."""
        handle = self.handle(workflow_id)
        for _ in range(400):
            if (await handle.query(FileSharingWorkflow.progress)).state == state:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the run never reached {state}")

    async def share_row(self, tenant_id: uuid.UUID, share_id: str) -> FileShare | None:
        async with transaction(self.resources.database, tenant_id) as db:
            return await ShareRepository(db, tenant_id).one(uuid.UUID(share_id))

    def mail_to(self, address: str) -> str:
        for message in reversed(self.mailer.sent):
            if message.to == address:
                return message.text
        raise AssertionError(f"no mail to {address}")


@asynccontextmanager
async def share_stack(
    settings: Settings,
    file_resources: Resources,
    tenant_resources: Resources,
    runtime: AuthRuntime,
    replace: dict[str, Callable[..., Any]] | None = None,
) -> AsyncIterator[ShareStack]:
    prefix = f"fs{uuid.uuid4().hex[:8]}"
    local = settings.model_copy(update={"task_queue_prefix": prefix, "file_clamd_address": None})
    files = dataclasses.replace(file_resources, settings=local)
    tenants = dataclasses.replace(tenant_resources, settings=local)
    mailer = RecordingMailer()
    stand_ins = {"file.mail_share": SharingActivities(files, mailer).mail_share, **(replace or {})}
    services = [(FILE_SPEC, files), (TENANT_SPEC, tenants)]
    async with running_workers(local, services, prefix, stand_ins):
        yield ShareStack(FileApi(FILE_SPEC.build_app(files), runtime, files), tenants, mailer)
