"""Auth's GDPR activities (queue ``<prefix>-auth``, docs/workflows.md "GDPR procedures"): the
account as the subject of a request (address, legal hold), its export part, the revocation of
every session, the erasure, and the compliance audit trail."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.auth.contracts import AUTH
from workflows.common.compliance import (
    ErasePartInput,
    ErasePartOutput,
    ExportPartInput,
    ExportPartOutput,
)
from workflows.common.contracts import ActivityContract


@dataclass
class SubjectInput:
    user_id: str
    #: The export or erasure run (for the audit trail).
    request_id: str = ""


@dataclass
class SubjectOutput:
    found: bool
    email: str = ""
    #: An operator's legal hold on the account: its reason, "" when none.
    legal_hold: str = ""


@dataclass
class RevokedSessions:
    count: int


@dataclass
class ComplianceEvent:
    """One step of a GDPR run, for ``auth.audit_events``: the subject by pseudonym only."""

    event: str
    request_id: str
    subject_ref: str = ""
    #: Set for an export (a living person's event); never for an erasure's steps.
    user_id: str = ""
    detail: dict[str, str] = field(default_factory=dict)


@dataclass
class ComplianceEventRecorded:
    recorded: bool = True


COMPLIANCE_SUBJECT = ActivityContract("auth.compliance_subject", AUTH, SubjectInput, SubjectOutput)
EXPORT_AUTH_DATA = ActivityContract(
    "auth.export_personal_data", AUTH, ExportPartInput, ExportPartOutput
)
REVOKE_ALL_SESSIONS = ActivityContract(
    "auth.erasure_revoke_sessions", AUTH, SubjectInput, RevokedSessions
)
ERASE_AUTH_DATA = ActivityContract(
    "auth.erase_personal_data", AUTH, ErasePartInput, ErasePartOutput
)
RECORD_COMPLIANCE_EVENT = ActivityContract(
    "auth.record_compliance_event", AUTH, ComplianceEvent, ComplianceEventRecorded
)
