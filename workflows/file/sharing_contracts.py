"""Contracts of ``file_sharing`` (docs/files.md, "Sharing"): who the share reaches (the tenant
service's members, queue ``<prefix>-tenant``), the share's row, its mail, and its end (expiry,
or revocation as the compensation) on the file service (queue ``<prefix>-file``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio.common import RetryPolicy

from workflows.common.contracts import ActivityContract
from workflows.file.tenant_storage_contracts import FILE

#: The tenant service's queue (``<prefix>-tenant``), named here: ``workflows.tenant`` imports the
#: file contracts already, so importing back would make a cycle.
TENANT = "tenant"

#: The signal ``revokeShare`` sends a waiting run (the row is revoked first, at once).
REVOKED_SIGNAL = "share_revoked"
#: The most addresses one share mails (a tenant-wide share of a large tenant is cut here).
MAX_RECIPIENTS = 200


@dataclass
class ShareRecipientsInput:
    tenant_id: str
    #: ``member``, ``role`` or ``tenant`` (a link names its addresses itself).
    kind: str
    #: The member's user id or the role's name; None for the tenant.
    grantee: str | None
    #: The sharer, never mailed about their own share.
    sharer_id: str
    idempotency_key: str


@dataclass
class ShareRecipientsOutput:
    #: False: the member is not an active member of the tenant, or the role does not exist.
    valid: bool
    reason: str | None = None
    emails: list[str] = field(default_factory=list)


#: Read only: the active members the share reaches, and whether its grantee exists.
SHARE_RECIPIENTS = ActivityContract(
    "tenant.share_recipients", TENANT, ShareRecipientsInput, ShareRecipientsOutput
)


@dataclass
class CreateShareInput:
    tenant_id: str
    file_id: str
    share_id: str
    kind: str
    grantee: str | None
    #: ``viewer`` or ``editor``.
    permission: str
    #: argon2id of a link's password (hashed by the route; the password is never in a payload).
    password_hash: str | None
    #: Seconds from the run's start; None: until revoked.
    expires_in_seconds: int | None
    created_by: str | None
    idempotency_key: str


@dataclass
class CreateShareOutput:
    share_id: str
    #: ISO 8601, or None.
    expires_at: str | None


#: The share's row (once per share id: a retry finds it); a file that is gone or not ready is
#: refused (FileNotFound / FileNotReady, non-retryable).
CREATE_SHARE = ActivityContract("file.create_share", FILE, CreateShareInput, CreateShareOutput)


@dataclass
class MailShareInput:
    tenant_id: str
    share_id: str
    #: Addresses from ``SHARE_RECIPIENTS`` or, for a link, the sharer's own list.
    recipients: list[str]
    idempotency_key: str


@dataclass
class MailShareOutput:
    sent: int


#: One mail per recipient (each at most once per run, a Redis claim per address); the link is
#: built inside the activity from the share id, so no token is in the history. Records
#: ``sent`` on the row. Retried five times, then the run records ``failed``.
MAIL_SHARE = ActivityContract(
    "file.mail_share",
    FILE,
    MailShareInput,
    MailShareOutput,
    retry_policy=RetryPolicy(
        maximum_attempts=5, initial_interval=timedelta(seconds=1), backoff_coefficient=2.0
    ),
)


@dataclass
class RecordShareMailInput:
    tenant_id: str
    share_id: str
    #: ``failed`` or ``none``.
    status: str
    detail: str | None
    idempotency_key: str


@dataclass
class RecordShareMailOutput:
    recorded: bool


RECORD_SHARE_MAIL = ActivityContract(
    "file.record_share_mail", FILE, RecordShareMailInput, RecordShareMailOutput
)


@dataclass
class EndShareInput:
    tenant_id: str
    share_id: str
    #: ``expired`` (the timer) or ``revoked`` (the compensation).
    status: str
    idempotency_key: str


@dataclass
class EndShareOutput:
    #: False when the share had ended already (revoked by a user, a retried step).
    ended: bool


END_SHARE = ActivityContract("file.end_share", FILE, EndShareInput, EndShareOutput)
