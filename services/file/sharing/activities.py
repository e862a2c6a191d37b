"""The file service's activities of ``file_sharing`` (queue ``<prefix>-file``): the share's row,
its mail, the mail's outcome, and its end (expired, or revoked as the compensation).

Each runs only in a ``file_sharing`` run of the caller's tenant, under a key of that run, and
is idempotent: the row is inserted once per share id, each address mailed once per run (a
Redis claim), ending an ended share changes nothing."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity

from services.common.mailer import Mailer, mailer_from_settings
from services.common.passwords import is_argon2id_hash
from services.common.resources import Resources
from services.common.security_context import (
    ActorKind,
    SecurityContext,
    denied,
    require_flow_step,
)
from services.file.sharing.links import LinkRef, LinkSigner
from services.file.sharing.mails import share_mail
from storage.db import transaction
from storage.files.models import FileStatus, NotifyStatus, ShareKind, ShareStatus
from storage.files.repository import FileRepository
from storage.files.shares import ShareRepository
from workflows.common.errors import business_error
from workflows.file import sharing_contracts as contracts
from workflows.file.contracts import FileError, FileWorkflow

MAIL_KEY_SECONDS = 7 * 24 * 3600


def _step(key: str, tenant_id: str) -> tuple[SecurityContext, uuid.UUID]:
    context = require_flow_step(key, FileWorkflow.FILE_SHARING)
    if context.actor != ActorKind.system and context.tenant_id != tenant_id:
        raise denied("a file_sharing run acts only on its caller's tenant")
    try:
        return context, uuid.UUID(tenant_id)
    except ValueError as error:
        raise business_error(FileError.INVALID_INPUT, "invalid tenant id") from error


def _id(text: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError as error:
        raise business_error(FileError.INVALID_INPUT, f"invalid {what}") from error


class SharingActivities:
    def __init__(self, resources: Resources, mailer: Mailer | None = None) -> None:
        self.resources = resources
        self.mailer = mailer or mailer_from_settings(resources.settings)

    @contracts.CREATE_SHARE.implement
    async def create_share(self, input: contracts.CreateShareInput) -> contracts.CreateShareOutput:
        context, tenant_id = _step(input.idempotency_key, input.tenant_id)
        if context.actor == ActorKind.user and context.user_id != input.created_by:
            raise denied("a share is made by the user who started the run")
        if input.password_hash is not None and not is_argon2id_hash(input.password_hash):
            raise business_error(FileError.INVALID_INPUT, "not a password hash")
        file_id, share_id = _id(input.file_id, "file id"), _id(input.share_id, "share id")
        # The first attempt's row fixes the expiry: a retry finds the row and keeps it.
        now = datetime.now(UTC)
        async with transaction(self.resources.database, tenant_id) as db:
            row = await FileRepository(db, tenant_id).visible(file_id)
            if row is None:
                raise business_error(FileError.FILE_NOT_FOUND, "no such file")
            if row.status in (FileStatus.QUARANTINED.value, FileStatus.REJECTED.value):
                raise business_error(FileError.FILE_NOT_READY, f"a {row.status} file is not shared")
            expires = (
                now + timedelta(seconds=input.expires_in_seconds)
                if input.expires_in_seconds is not None
                else None
            )
            try:
                share = await ShareRepository(db, tenant_id).create(
                    {
                        "id": share_id,
                        "file_id": file_id,
                        "kind": input.kind,
                        "grantee": input.grantee,
                        "permission": input.permission,
                        "password_hash": input.password_hash,
                        "expires_at": expires,
                        "created_by": _id(input.created_by, "user id")
                        if input.created_by
                        else None,
                        "workflow_id": activity.info().workflow_id,
                    }
                )
            except LookupError as error:
                raise business_error(FileError.INVALID_INPUT, "share id taken") from error
        return contracts.CreateShareOutput(
            str(share.id), share.expires_at.isoformat() if share.expires_at else None
        )

    @contracts.MAIL_SHARE.implement
    async def mail_share(self, input: contracts.MailShareInput) -> contracts.MailShareOutput:
        _, tenant_id = _step(input.idempotency_key, input.tenant_id)
        share_id = _id(input.share_id, "share id")
        async with transaction(self.resources.database, tenant_id) as db:
            share = await ShareRepository(db, tenant_id).one(share_id)
            file = await FileRepository(db, tenant_id).visible(share.file_id) if share else None
        if share is None or file is None or share.status != ShareStatus.ACTIVE.value:
            return contracts.MailShareOutput(sent=0)  # ended meanwhile: nobody to tell
        base = self.resources.settings.public_url.rstrip("/")
        if share.kind == ShareKind.LINK.value:
            signer = LinkSigner.for_settings(self.resources.settings)
            url = base + signer.path(LinkRef(tenant_id, share_id))
        else:
            url = f"{base}/files/{file.id}"
        redis, keys = self.resources.redis, self.resources.redis_keys
        sent = 0
        for address in sorted(set(input.recipients))[: contracts.MAX_RECIPIENTS]:
            digest = hashlib.sha256(f"{input.idempotency_key}:{address}".encode()).hexdigest()
            claim = keys("file", "share-mail-sent", digest)
            if not await redis.set(claim, "1", nx=True, ex=MAIL_KEY_SECONDS):
                continue  # sent by an earlier attempt
            message = share_mail(
                address,
                file.name,
                share.permission,
                url,
                password=share.password_hash is not None,
                expires_at=share.expires_at,
                dedup_key=f"{input.idempotency_key}:{address}",
            )
            try:
                await self.mailer.send(message)
            except Exception:
                await redis.delete(claim)  # not sent: a retry may send it
                raise
            sent += 1
        async with transaction(self.resources.database, tenant_id) as db:
            await ShareRepository(db, tenant_id).set_notified(
                share_id, NotifyStatus.SENT.value, None
            )
        return contracts.MailShareOutput(sent=sent)

    @contracts.RECORD_SHARE_MAIL.implement
    async def record_share_mail(
        self, input: contracts.RecordShareMailInput
    ) -> contracts.RecordShareMailOutput:
        _, tenant_id = _step(input.idempotency_key, input.tenant_id)
        if input.status not in (NotifyStatus.FAILED.value, NotifyStatus.NONE.value):
            raise business_error(FileError.INVALID_INPUT, "only failed or none is recorded")
        async with transaction(self.resources.database, tenant_id) as db:
            await ShareRepository(db, tenant_id).set_notified(
                _id(input.share_id, "share id"), input.status, (input.detail or None)
            )
        return contracts.RecordShareMailOutput(recorded=True)

    @contracts.END_SHARE.implement
    async def end_share(self, input: contracts.EndShareInput) -> contracts.EndShareOutput:
        _, tenant_id = _step(input.idempotency_key, input.tenant_id)
        status = ShareStatus(input.status)
        if status == ShareStatus.ACTIVE:
            raise business_error(FileError.INVALID_INPUT, "a share ends revoked or expired")
        async with transaction(self.resources.database, tenant_id) as db:
            ended = await ShareRepository(db, tenant_id).end(
                _id(input.share_id, "share id"), status, datetime.now(UTC), None
            )
        return contracts.EndShareOutput(ended=ended)

    def all(self) -> list[Callable[..., Any]]:
        return [self.create_share, self.mail_share, self.record_share_mail, self.end_share]
