"""``file_sharing``: share one file with a member, a role, the whole tenant or by link
(docs/files.md, "Sharing"). Id: ``file-sharing-<share id>`` (a share is started once).

1. **recipients** (``tenant.share_recipients``, tenant service): the grantee exists (an active
   member, a role of the tenant) and the addresses of the members the share reaches. A grantee
   that does not exist fails the run (InvalidInput) before anything is written.
2. **create** (``file.create_share``): the row; from then on the share grants access.
3. **mail** (``file.mail_share``): each recipient told (a link's mail carries the link, built in
   the activity). A mail that fails for good does **not** undo the share: it is recorded as
   ``notify_status = failed`` with the reason (``file.record_share_mail``); the sharer sees it
   in ``shares`` and can send the link themselves. That is what a user expects of Drive-like
   sharing: access granted is not taken back because a mail server was down.
4. **expiry**: with an expiry, a durable timer (``expires_in_seconds``) then ``file.end_share``
   (``expired``); a ``share_revoked`` signal (``revokeShare`` revoked the row already) ends the
   wait early.

Compensation: a run that fails or is cancelled after step 2 (anything but the mail) revokes
the share (``file.end_share`` ``revoked``), so no share outlives a broken run unnoticed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.file.contracts import FileError, FileWorkflow
    from workflows.file.sharing_contracts import (
        CREATE_SHARE,
        END_SHARE,
        MAIL_SHARE,
        RECORD_SHARE_MAIL,
        REVOKED_SIGNAL,
        SHARE_RECIPIENTS,
        CreateShareInput,
        EndShareInput,
        MailShareInput,
        RecordShareMailInput,
        ShareRecipientsInput,
    )

TOTAL_STEPS = 4


@dataclass
class FileSharingInput:
    tenant_id: str
    file_id: str
    share_id: str
    #: ``member``, ``role``, ``tenant`` or ``link``.
    kind: str
    grantee: str | None
    permission: str
    sharer_id: str
    password_hash: str | None = None
    expires_in_seconds: int | None = None
    #: A link's addresses to mail (members' addresses come from the tenant service).
    recipients: list[str] = field(default_factory=list)


@dataclass
class ShareRevoked:
    by: str | None = None


@dataclass
class FileSharingResult:
    share_id: str
    #: ``active`` (no expiry), ``expired`` or ``revoked``.
    status: str
    #: ``sent``, ``failed`` or ``none``.
    notify_status: str
    mailed: int = 0
    expires_at: str | None = None


def file_sharing_workflow_id(share_id: str) -> str:
    return f"file-sharing-{share_id}"


def _reason(error: ActivityError) -> str:
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return f"{cause.type}: {cause.message}"[:255]
    return "the mail could not be sent"


@workflow.defn(name=FileWorkflow.FILE_SHARING)
class FileSharingWorkflow:
    @workflow.init
    def __init__(self, input: FileSharingInput) -> None:
        self._progress = ProgressTracker(total=TOTAL_STEPS, label="checking the recipients")
        self._revoked = False

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.signal(name=REVOKED_SIGNAL)
    def share_revoked(self, signal: ShareRevoked) -> None:
        self._revoked = True

    @workflow.run
    async def run(self, input: FileSharingInput) -> FileSharingResult:
        key = f"{workflow.info().workflow_id}:{workflow.info().run_id}"
        recipients = list(input.recipients)
        if input.kind != "link":
            found = await SHARE_RECIPIENTS.execute(
                ShareRecipientsInput(
                    input.tenant_id, input.kind, input.grantee, input.sharer_id, f"{key}:who"
                )
            )
            if not found.valid:
                self._progress.set_state(ProgressState.failed, "no such recipient")
                raise ApplicationError(
                    found.reason or "no such recipient",
                    type=FileError.INVALID_INPUT,
                    non_retryable=True,
                )
            recipients = found.emails
        self._progress.advance(1, "sharing")
        created = await CREATE_SHARE.execute(
            CreateShareInput(
                input.tenant_id,
                input.file_id,
                input.share_id,
                input.kind,
                input.grantee,
                input.permission,
                input.password_hash,
                input.expires_in_seconds,
                input.sharer_id,
                f"{key}:create",
            )
        )
        try:
            return await self._after_creation(input, key, recipients, created.expires_at)
        except (ActivityError, asyncio.CancelledError):
            self._progress.set_state(ProgressState.compensating, "revoking the share")
            await END_SHARE.execute(
                EndShareInput(input.tenant_id, input.share_id, "revoked", f"{key}:compensate")
            )
            self._progress.set_state(ProgressState.failed, "share revoked")
            raise

    async def _after_creation(
        self, input: FileSharingInput, key: str, recipients: list[str], expires_at: str | None
    ) -> FileSharingResult:
        self._progress.advance(2, "mailing the recipients")
        notify, mailed = await self._mail(input, key, recipients)
        if input.expires_in_seconds is None:
            self._progress.advance(TOTAL_STEPS, "shared", ProgressState.completed)
            return FileSharingResult(input.share_id, "active", notify, mailed, expires_at)
        self._progress.advance(3, "shared until it expires", ProgressState.waiting)
        try:
            await workflow.wait_condition(
                lambda: self._revoked, timeout=timedelta(seconds=input.expires_in_seconds)
            )
        except TimeoutError:
            pass
        if self._revoked:
            self._progress.advance(TOTAL_STEPS, "revoked", ProgressState.completed)
            return FileSharingResult(input.share_id, "revoked", notify, mailed, expires_at)
        ended = await END_SHARE.execute(
            EndShareInput(input.tenant_id, input.share_id, "expired", f"{key}:expire")
        )
        status = "expired" if ended.ended else "revoked"
        self._progress.advance(TOTAL_STEPS, status, ProgressState.completed)
        return FileSharingResult(input.share_id, status, notify, mailed, expires_at)

    async def _mail(
        self, input: FileSharingInput, key: str, recipients: list[str]
    ) -> tuple[str, int]:
        if not recipients:
            await RECORD_SHARE_MAIL.execute(
                RecordShareMailInput(input.tenant_id, input.share_id, "none", None, f"{key}:note")
            )
            return "none", 0
        try:
            done = await MAIL_SHARE.execute(
                MailShareInput(input.tenant_id, input.share_id, recipients, f"{key}:mail")
            )
        except ActivityError as error:
            # The share stays: the failure is recorded on it for the sharer to see.
            await RECORD_SHARE_MAIL.execute(
                RecordShareMailInput(
                    input.tenant_id, input.share_id, "failed", _reason(error), f"{key}:note"
                )
            )
            return "failed", 0
        return "sent", done.sent
