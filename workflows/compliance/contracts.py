"""Contracts of the GDPR workflows (docs/workflows.md, "GDPR procedures"): their names, their
inputs and results, and the workflow service's own activities (queue ``<prefix>-workflow``):
the mailed download link (signed in the activity, so its token is in no history), the export's
removal, the purge of the person's runs and Redis keys, and the signed receipt."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from workflows.common.compliance import ErasePartOutput
from workflows.common.contracts import ActivityContract

#: The workflow service's task-queue suffix.
WORKFLOW = "workflow"
GDPR_EXPORT = "gdpr_export"
GDPR_ERASURE = "gdpr_erasure"
#: Update and signals of ``gdpr_erasure``.
DECIDE_TENANTS = "decide_tenants"
CANCEL_ERASURE = "cancel_erasure"
ERASURE_STATE_QUERY = "erasure_state"


class ErasureOutcome(StrEnum):
    ERASED = "erased"
    CANCELLED = "cancelled"
    #: An operator's legal hold stopped it (nothing erased).
    LEGAL_HOLD = "legal_hold"
    #: No account for the subject.
    NOT_FOUND = "not_found"


# --- workflow inputs and results ---------------------------------------------------------------


@dataclass
class ExportInput:
    export_id: str
    user_id: str
    #: How long the download link (and the archive) lives.
    link_seconds: int = 7 * 24 * 3600


@dataclass
class ExportResult:
    export_id: str
    size: int
    sha256: str
    files: int
    #: Seconds since the epoch when the link expired (the archive was removed then).
    expires_at: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class ErasureInput:
    erasure_id: str
    #: The subject: only ever in this (encrypted) input, never a search attribute.
    user_id: str
    #: HMAC pseudonym of the subject (receipt, audit trail).
    subject_ref: str
    grace_seconds: int = 30 * 24 * 3600
    #: How long to wait for the decision on tenants the person alone owns.
    decision_seconds: int = 30 * 24 * 3600


class TenantAction(StrEnum):
    #: Another member becomes the tenant's owner.
    TRANSFER = "transfer"
    #: The tenant is deleted through the tenant service's own deletion (``tenant_suspension``,
    #: action ``delete``) once the grace period is over.
    DELETE = "delete"


@dataclass
class TenantDecision:
    tenant_id: str
    #: The member who becomes its owner (``transfer`` only).
    new_owner_id: str = ""
    action: str = TenantAction.TRANSFER.value


@dataclass
class DecideTenantsInput:
    decisions: list[TenantDecision] = field(default_factory=list)


@dataclass
class DecideTenantsOutput:
    #: Tenants still waiting for a decision.
    waiting: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


@dataclass
class CancelErasureInput:
    reason: str = ""


@dataclass
class ErasureState:
    """What the run is at, and what it waits for (``erasure_state`` query)."""

    phase: str
    #: Tenants the person alone owns, waiting for a new owner each.
    waiting_for_tenants: list[str] = field(default_factory=list)
    #: Seconds since the epoch when the grace period ends (0 before it starts).
    grace_ends_at: int = 0
    cancellable: bool = True
    #: Tenants the person chose to delete: deleted when the grace period is over.
    deleting_tenants: list[str] = field(default_factory=list)


@dataclass
class Receipt:
    """What the person is given once erased: no personal data, the subject by pseudonym."""

    erasure_id: str
    subject_ref: str
    completed_at: str
    parts: list[ErasePartOutput] = field(default_factory=list)


@dataclass
class SignedReceipt:
    #: The canonical JSON of the ``Receipt`` (what is signed).
    receipt: str
    key_id: str
    signature: str


@dataclass
class ErasureResult:
    erasure_id: str
    outcome: str
    receipt: SignedReceipt | None = None
    detail: str = ""


# --- the workflow service's activities ---------------------------------------------------------


@dataclass
class MailExportLinkInput:
    export_id: str
    email: str
    expires_at: int


@dataclass
class MailSent:
    sent: bool = True


@dataclass
class RemoveExportInput:
    export_id: str


@dataclass
class RemoveExportOutput:
    removed: int


@dataclass
class PurgeRunsInput:
    user_id: str


@dataclass
class PurgeRedisInput:
    user_id: str
    email: str = ""


@dataclass
class SignReceiptInput:
    receipt: Receipt


@dataclass
class MailReceiptInput:
    erasure_id: str
    email: str
    receipt: SignedReceipt


MAIL_EXPORT_LINK = ActivityContract(
    "workflow.mail_export_link", WORKFLOW, MailExportLinkInput, MailSent
)
REMOVE_EXPORT = ActivityContract(
    "workflow.remove_export", WORKFLOW, RemoveExportInput, RemoveExportOutput
)
PURGE_RUNS = ActivityContract("workflow.purge_user_runs", WORKFLOW, PurgeRunsInput, ErasePartOutput)
PURGE_REDIS = ActivityContract(
    "workflow.purge_user_redis", WORKFLOW, PurgeRedisInput, ErasePartOutput
)
SIGN_RECEIPT = ActivityContract(
    "workflow.sign_erasure_receipt", WORKFLOW, SignReceiptInput, SignedReceipt
)
MAIL_RECEIPT = ActivityContract(
    "workflow.mail_erasure_receipt", WORKFLOW, MailReceiptInput, MailSent
)
