"""``gdpr_export`` (queue ``<prefix>-workflow``; GDPR Art. 15/20): everything ADX holds about one
person, gathered from every service into one archive, and an expiring link to it mailed to them.

1. ``auth.compliance_subject``: the account (its address, for the mail);
2. ``tenant.compliance_memberships``: the tenants they belong to (tenant-scoped rows are read
   per tenant);
3. each service writes its JSON part to the blob store: ``auth.export_personal_data`` (account,
   sessions metadata, MFA state, SSO links, claims, audit entries), ``user.…`` (profile,
   preferences, directory entries, first-run rows), ``tenant.…`` (memberships, roles, tenants,
   invitations), ``file.…`` (the files they own and their shares);
4. ``file.build_export_archive``: one zip, streamed, of the parts plus the files' bytes;
5. ``workflow.mail_export_link``: a signed link (made and mailed inside the activity: its
   token is in no history) valid for ``link_seconds``;
6. a durable timer until the link expires, then ``workflow.remove_export``.

A failure in 3-5 removes whatever parts and partial archive were written (``remove_export``)
and fails the run; so does a cancellation, at any point. Started by the person themself (their
security context: every activity acts only for that user). Id: ``gdpr-export-<random>``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.auth.compliance_contracts import (
        COMPLIANCE_SUBJECT,
        EXPORT_AUTH_DATA,
        RECORD_COMPLIANCE_EVENT,
        ComplianceEvent,
        SubjectInput,
    )
    from workflows.common.compliance import ExportPartInput, ExportPartOutput
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.compliance.contracts import (
        GDPR_EXPORT,
        MAIL_EXPORT_LINK,
        REMOVE_EXPORT,
        ExportInput,
        ExportResult,
        MailExportLinkInput,
        RemoveExportInput,
    )
    from workflows.file.compliance_contracts import (
        BUILD_EXPORT_ARCHIVE,
        EXPORT_FILE_DATA,
        BuildArchiveInput,
    )
    from workflows.tenant.compliance_contracts import (
        COMPLIANCE_MEMBERSHIPS,
        EXPORT_TENANT_DATA,
        MembershipsInput,
    )
    from workflows.user.compliance_contracts import EXPORT_USER_DATA

STEPS = 6
#: ``ApplicationError.type`` when the person has no account (any more).
UNKNOWN_SUBJECT = "ComplianceUnknownSubject"


def gdpr_export_workflow_id(export_id: str) -> str:
    return f"gdpr-export-{export_id}"


@workflow.defn(name=GDPR_EXPORT)
class GdprExportWorkflow:
    def __init__(self) -> None:
        self._progress = ProgressTracker(STEPS)

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    async def _audit(self, input: ExportInput, event: str, **detail: str) -> None:
        await RECORD_COMPLIANCE_EVENT.execute(
            ComplianceEvent(event, input.export_id, user_id=input.user_id, detail=detail)
        )

    @workflow.run
    async def run(self, input: ExportInput) -> ExportResult:
        self._progress.advance(0, "account")
        subject = await COMPLIANCE_SUBJECT.execute(SubjectInput(input.user_id, input.export_id))
        if not subject.found:
            raise ApplicationError("no account", type=UNKNOWN_SUBJECT, non_retryable=True)
        await self._audit(input, "compliance.export_started")
        self._progress.advance(1, "memberships")
        memberships = await COMPLIANCE_MEMBERSHIPS.execute(MembershipsInput(input.user_id))
        part_input = ExportPartInput(
            input.export_id, input.user_id, memberships.tenant_ids, subject.email
        )
        expires_at = int(workflow.now().timestamp()) + input.link_seconds
        try:
            self._progress.advance(2, "gathering")
            parts: list[ExportPartOutput] = list(
                await asyncio.gather(
                    EXPORT_AUTH_DATA.execute(part_input),
                    EXPORT_USER_DATA.execute(part_input),
                    EXPORT_TENANT_DATA.execute(part_input),
                    EXPORT_FILE_DATA.execute(part_input),
                )
            )
            self._progress.advance(3, "archive")
            archive = await BUILD_EXPORT_ARCHIVE.execute(
                BuildArchiveInput(
                    input.export_id,
                    input.user_id,
                    memberships.tenant_ids,
                    [p.blob_key for p in parts],
                )
            )
            self._progress.advance(4, "mail")
            await MAIL_EXPORT_LINK.execute(
                MailExportLinkInput(input.export_id, subject.email, expires_at)
            )
            await self._audit(input, "compliance.export_ready", sha256=archive.sha256)
            self._progress.advance(5, "link valid", ProgressState.waiting)
            await workflow.sleep(timedelta(seconds=max(0, expires_at - _now())))
        except BaseException:
            # Failed or cancelled: the partial export goes (a cancelled workflow may still run
            # activities after the cancellation reached it), then the run ends as it would have.
            self._progress.set_state(ProgressState.compensating, "removing the export")
            await self._remove(input)
            raise
        await self._remove(input)
        await self._audit(input, "compliance.export_expired")
        self._progress.advance(STEPS, "completed", ProgressState.completed)
        return ExportResult(
            input.export_id,
            archive.size,
            archive.sha256,
            archive.files,
            expires_at,
            {p.service: p.counts for p in parts},
        )

    async def _remove(self, input: ExportInput) -> None:
        await REMOVE_EXPORT.execute(RemoveExportInput(input.export_id))


def _now() -> int:
    return int(workflow.now().timestamp())
