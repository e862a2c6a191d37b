"""The workflow service's own GDPR activities (queue ``<prefix>-workflow``): the mailed export
link, the export's removal, the purge of the person's runs and Redis keys, the signed receipt
and its mail. The workflow service owns no schema; it owns the runs and the compliance
prefix of the blob store."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.service import RPCError, RPCStatusCode

from services.common.compliance import (
    checked_request_id,
    parse_id,
    require_erasure_step,
)
from services.common.mailer import EmailMessage, Mailer, mailer_from_settings
from services.common.resources import Resources
from services.common.security_context import require_context, require_flow
from services.workflow.compliance.signing import ExportLink, ExportLinkSigner, ReceiptSigner
from services.workflow.runs import audit
from workflows.common.compliance import (
    ErasePartOutput,
    export_archive_key,
    export_part_key,
)
from workflows.compliance.contracts import (
    GDPR_ERASURE,
    GDPR_EXPORT,
    MAIL_EXPORT_LINK,
    MAIL_RECEIPT,
    PURGE_REDIS,
    PURGE_RUNS,
    REMOVE_EXPORT,
    SIGN_RECEIPT,
    MailExportLinkInput,
    MailReceiptInput,
    MailSent,
    PurgeRedisInput,
    PurgeRunsInput,
    RemoveExportInput,
    RemoveExportOutput,
    SignedReceipt,
    SignReceiptInput,
)

#: The services whose parts an export may hold.
PART_SERVICES = ("auth", "user", "tenant", "file")
_SCAN_COUNT = 500


def canonical_receipt(receipt: Any) -> str:
    return json.dumps(asdict(receipt), sort_keys=True, separators=(",", ":"))


class ComplianceActivities:
    def __init__(self, resources: Resources, mailer: Mailer | None = None) -> None:
        self.resources = resources
        self.settings = resources.settings
        self.mailer = mailer or mailer_from_settings(resources.settings)

    @MAIL_EXPORT_LINK.implement
    async def mail_export_link(self, input: MailExportLinkInput) -> MailSent:
        context = require_context()
        require_flow(context, GDPR_EXPORT)
        export_id = checked_request_id(input.export_id)
        path = ExportLinkSigner.for_settings(self.settings).path(
            ExportLink(export_id, input.expires_at)
        )
        until = datetime.fromtimestamp(input.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        await self.mailer.send(
            EmailMessage(
                to=input.email,
                subject="Your ADX data export is ready",
                text=(
                    "The archive of your data is ready to download until "
                    f"{until}:\n\n{self.settings.public_url.rstrip('/')}{path}\n\n"
                    "It is one zip: a JSON file per service and the files you own.\n"
                ),
                dedup_key=f"gdpr-export:{export_id}:link",
            )
        )
        return MailSent()

    @REMOVE_EXPORT.implement
    async def remove_export(self, input: RemoveExportInput) -> RemoveExportOutput:
        require_flow(require_context(), GDPR_EXPORT, GDPR_ERASURE)
        return RemoveExportOutput(await self._remove_export(checked_request_id(input.export_id)))

    async def _remove_export(self, export_id: str) -> int:
        keys = [export_part_key(export_id, s) for s in PART_SERVICES]
        keys.append(export_archive_key(export_id))
        removed = 0
        for key in keys:
            if await self.resources.blobs.exists(key):
                removed += 1
            await self.resources.blobs.delete(key)
        return removed

    @PURGE_RUNS.implement
    async def purge_user_runs(self, input: PurgeRunsInput) -> ErasePartOutput:
        """Every run whose ``AdxUserId`` is the person's, deleted (a running one is terminated
        by the deletion); an export's blobs with it. Search attributes of closed runs cannot be
        changed, and their histories hold the person's (encrypted) data too."""
        require_erasure_step()
        user_id = str(parse_id(input.user_id))
        client = self.resources.temporal
        runs = exports = 0
        query = f"AdxUserId = '{user_id}'"
        async for execution in client.list_workflows(query):
            if execution.workflow_type == GDPR_ERASURE:
                continue  # never started as the person; skipped should one ever be
            if execution.workflow_type == GDPR_EXPORT:
                exports += await self._remove_export_of(execution.id)
            try:
                await client.workflow_service.delete_workflow_execution(
                    DeleteWorkflowExecutionRequest(
                        namespace=client.namespace,
                        workflow_execution=WorkflowExecution(
                            workflow_id=execution.id, run_id=execution.run_id
                        ),
                    )
                )
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:
                    raise
            runs += 1
        return ErasePartOutput("workflow", {"runs": runs, "export_blobs": exports})

    async def _remove_export_of(self, workflow_id: str) -> int:
        export_id = workflow_id.removeprefix("gdpr-export-")
        try:
            return await self._remove_export(checked_request_id(export_id))
        except Exception:  # not one of ours: no blobs to remove
            return 0

    @PURGE_REDIS.implement
    async def purge_user_redis(self, input: PurgeRedisInput) -> ErasePartOutput:
        """Keys under the platform's prefix naming the person (by id or address), and entries
        of the run-management audit stream that name them."""
        require_erasure_step()
        user_id = str(parse_id(input.user_id))
        redis = self.resources.redis
        prefix = self.resources.redis_keys.prefix
        needles = [user_id] + ([input.email.lower()] if input.email else [])
        keys = 0
        for needle in needles:
            pattern = f"{prefix}:*{_glob_escape(needle)}*"
            async for key in redis.scan_iter(match=pattern, count=_SCAN_COUNT):
                keys += int(await redis.delete(key))
        entries = 0
        stream = audit.stream_key(self.resources)
        last = "-"
        while True:
            batch: Any = await redis.xrange(stream, min=last, count=_SCAN_COUNT)
            batch = [b for b in batch or [] if _text(b[0]) != last]
            if not batch:
                break
            doomed = [
                entry_id
                for entry_id, fields in batch
                if any(n in _text(v).lower() for v in (fields or {}).values() for n in needles)
            ]
            if doomed:
                entries += int(await redis.xdel(stream, *doomed))
            last = _text(batch[-1][0])
        return ErasePartOutput("redis", {"keys": keys, "audit_stream_entries": entries})

    @SIGN_RECEIPT.implement
    async def sign_erasure_receipt(self, input: SignReceiptInput) -> SignedReceipt:
        require_erasure_step()
        body = canonical_receipt(input.receipt)
        kid, signature = ReceiptSigner.for_settings(self.settings).sign(body)
        return SignedReceipt(body, kid, signature)

    @MAIL_RECEIPT.implement
    async def mail_erasure_receipt(self, input: MailReceiptInput) -> MailSent:
        require_erasure_step()
        erasure_id = checked_request_id(input.erasure_id)
        document = json.dumps(asdict(input.receipt), indent=2)
        await self.mailer.send(
            EmailMessage(
                to=input.email,
                subject="Your ADX account has been erased",
                text=(
                    "Your account and your data have been erased from every ADX service.\n\n"
                    "The signed receipt below lists what was deleted; anyone can check its "
                    "signature with POST /compliance/receipts/verify.\n\n"
                    f"{document}\n"
                ),
                dedup_key=f"gdpr-erasure:{erasure_id}:receipt",
            )
        )
        return MailSent()

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.mail_export_link,
            self.remove_export,
            self.purge_user_runs,
            self.purge_user_redis,
            self.sign_erasure_receipt,
            self.mail_erasure_receipt,
        ]


def _glob_escape(value: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in value)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
