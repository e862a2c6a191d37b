"""Auth's GDPR activities (queue ``<prefix>-auth``), each for the request's subject only
(``services/common/compliance.py``): the account's address and legal hold, its export part,
all its sessions revoked at once, its erasure, and one audit entry per step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from services.auth.runtime import AuthRuntime
from services.common.compliance import (
    as_json,
    parse_id,
    require_erasure_step,
    require_subject_step,
    write_part,
)
from services.common.security_context import denied, require_context, require_flow
from storage.auth import compliance
from storage.auth.audit import AuditRepository
from storage.db import transaction
from workflows.auth.compliance_contracts import (
    COMPLIANCE_SUBJECT,
    ERASE_AUTH_DATA,
    EXPORT_AUTH_DATA,
    RECORD_COMPLIANCE_EVENT,
    REVOKE_ALL_SESSIONS,
    ComplianceEvent,
    ComplianceEventRecorded,
    RevokedSessions,
    SubjectInput,
    SubjectOutput,
)
from workflows.common.compliance import (
    ErasePartInput,
    ErasePartOutput,
    ExportPartInput,
    ExportPartOutput,
)
from workflows.compliance.contracts import GDPR_ERASURE, GDPR_EXPORT

SERVICE = "auth"
#: ``AuditRepository.record``'s own keywords.
_RESERVED = frozenset({"event", "user_id", "session_id", "ip"})


class AuthComplianceActivities:
    def __init__(self, runtime: AuthRuntime) -> None:
        self.runtime = runtime
        self.database = runtime.resources.database

    @COMPLIANCE_SUBJECT.implement
    async def compliance_subject(self, input: SubjectInput) -> SubjectOutput:
        user_id = parse_id(input.user_id)
        require_subject_step(user_id)
        async with transaction(self.database) as db:
            email, hold = await compliance.subject(db, user_id)
        return SubjectOutput(found=email is not None, email=email or "", legal_hold=hold or "")

    @EXPORT_AUTH_DATA.implement
    async def export_personal_data(self, input: ExportPartInput) -> ExportPartOutput:
        user_id = parse_id(input.user_id)
        require_subject_step(user_id)
        async with transaction(self.database) as db:
            rows = await compliance.export_rows(db, user_id)
        document = {k: [as_json(r) for r in v] for k, v in rows.items()}
        key = await write_part(self.runtime.resources.blobs, input.export_id, SERVICE, document)
        return ExportPartOutput(SERVICE, key, {k: len(v) for k, v in document.items()})

    @REVOKE_ALL_SESSIONS.implement
    async def erasure_revoke_sessions(self, input: SubjectInput) -> RevokedSessions:
        require_erasure_step()
        user_id = parse_id(input.user_id)
        count = await self.runtime.sessions.revoke_all(user_id, "erasure")
        return RevokedSessions(count)

    @ERASE_AUTH_DATA.implement
    async def erase_personal_data(self, input: ErasePartInput) -> ErasePartOutput:
        require_erasure_step()
        user_id = parse_id(input.user_id)
        # Sessions opened since the request (the person signed in again during the grace).
        session_ids = [s.id for s in await self.runtime.sessions.list(user_id)]
        async with transaction(self.database) as db:
            deleted = await compliance.erase(db, user_id, input.email)
        # Access tokens of those sessions are refused until they would have expired anyway.
        await self.runtime.sessions.deny(*session_ids)
        return ErasePartOutput(SERVICE, deleted)

    @RECORD_COMPLIANCE_EVENT.implement
    async def record_compliance_event(self, input: ComplianceEvent) -> ComplianceEventRecorded:
        context = require_context()
        require_flow(context, GDPR_EXPORT, GDPR_ERASURE)
        if input.user_id:
            require_subject_step(parse_id(input.user_id))
        elif context.actor.value != "system":
            raise denied("an erasure's audit entries are the platform's")
        detail: dict[str, Any] = {
            k[:40]: v[:200] for k, v in list(input.detail.items())[:10] if k not in _RESERVED
        }
        detail["request_id"] = input.request_id[:80]
        if input.subject_ref:
            detail["subject_ref"] = input.subject_ref[:64]
        user_id = parse_id(input.user_id) if input.user_id else None
        event = input.event[:60]
        async with transaction(self.database) as db:
            if activity.info().attempt > 1 and await compliance.event_recorded(db, event, detail):
                return ComplianceEventRecorded()
            await AuditRepository(db).record(event, user_id=user_id, **detail)
        return ComplianceEventRecorded()

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.compliance_subject,
            self.export_personal_data,
            self.erasure_revoke_sessions,
            self.erase_personal_data,
            self.record_compliance_event,
        ]
