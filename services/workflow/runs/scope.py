"""Who sees and acts on which runs, and the visibility queries that say it (docs/workflows.md).

- **operators** (a platform role: user ids listed in ``ADX_WORKFLOW_OPERATOR_USER_IDS``) see
  and act on every run, and alone may terminate;
- a caller holding ``workflows.read`` in their token's tenant (the ``perms`` claim) sees that
  tenant's runs, and with ``workflows.manage`` cancels, retries, resets them and sees their
  payloads;
- anyone else signed in sees the runs they started themselves (``AdxUserId``), read only.

Every query is built here from validated values only: each value passes a strict pattern (ids
are UUIDs, types ``WORKFLOW_TYPE_PATTERN``, statuses an enum, times formatted by us) and is
quoted by :func:`literal`, which refuses anything with a quote or a backslash, so no input can
change a query's meaning. A caller's scope is always AND-ed in front.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.common import TypedSearchAttributes

from services.common import search_attributes
from services.common.errors import ForbiddenError, InvalidInputError, NotFoundError
from services.common.settings import Settings
from services.common.tokens import Principal
from services.workflow.schemas import WORKFLOW_TYPE_PATTERN, RunFilter, RunStatus
from workflows.tenant.permissions import Permission

#: Temporal's ``ExecutionStatus`` values by our status names.
VISIBILITY_STATUS = {
    RunStatus.RUNNING: "Running",
    RunStatus.COMPLETED: "Completed",
    RunStatus.FAILED: "Failed",
    RunStatus.CANCELED: "Canceled",
    RunStatus.TERMINATED: "Terminated",
    RunStatus.CONTINUED_AS_NEW: "ContinuedAsNew",
    RunStatus.TIMED_OUT: "TimedOut",
}
STATUS_OF_VISIBILITY = {v: k for k, v in VISIBILITY_STATUS.items()}
_SAFE = re.compile(r"^[A-Za-z0-9_.:@=+\-]{0,255}$")
_TYPE = re.compile(WORKFLOW_TYPE_PATTERN)


def operator_ids(settings: Settings) -> frozenset[str]:
    return frozenset(
        _canonical(part.strip())
        for part in settings.workflow_operator_user_ids.split(",")
        if part.strip()
    )


def _canonical(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        return raw


def literal(value: str) -> str:
    """``value`` as a quoted visibility-query literal; only values that need no escaping."""
    if not _SAFE.fullmatch(value):
        raise InvalidInputError("a filter value has characters no id or name has")
    return f"'{value}'"


def uuid_value(raw: str, what: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise InvalidInputError(f"{what} is not a UUID") from None


def time_literal(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return literal(aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


@dataclass(frozen=True)
class Scope:
    """The caller's reach over runs."""

    user_id: str
    operator: bool
    tenant_id: str | None
    can_read_tenant: bool
    can_manage_tenant: bool

    @classmethod
    def of(cls, principal: Principal, settings: Settings) -> Scope:
        perms = set(principal.permissions)
        tenant = principal.tenant_id
        return cls(
            user_id=principal.user_id,
            operator=_canonical(principal.user_id) in operator_ids(settings),
            tenant_id=tenant,
            can_read_tenant=tenant is not None
            and bool(perms & {Permission.WORKFLOWS_READ, Permission.WORKFLOWS_MANAGE}),
            can_manage_tenant=tenant is not None and Permission.WORKFLOWS_MANAGE in perms,
        )

    def clause(self) -> str | None:
        """The visibility condition of what this caller sees (None: everything)."""
        if self.operator:
            return None
        if self.can_read_tenant and self.tenant_id is not None:
            return f"{search_attributes.TENANT_ID.name} = {literal(self.tenant_id)}"
        return f"{search_attributes.USER_ID.name} = {literal(self.user_id)}"

    def sees(self, attributes: TypedSearchAttributes) -> bool:
        if self.operator:
            return True
        values = search_attributes.adx_values(attributes)
        if self.can_read_tenant:
            return values["tenant_id"] is not None and values["tenant_id"] == self.tenant_id
        return values["user_id"] is not None and values["user_id"] == self.user_id

    def manages(self, attributes: TypedSearchAttributes) -> bool:
        """Cancel, retry, reset and read payloads: operators, or ``workflows.manage`` in the
        run's tenant."""
        if self.operator:
            return True
        tenant = search_attributes.adx_values(attributes)["tenant_id"]
        return self.can_manage_tenant and tenant is not None and tenant == self.tenant_id

    def require_manager(self, attributes: TypedSearchAttributes, workflow_id: str) -> None:
        """Acting on a run one may not manage is answered like a run one cannot see: 404,
        unless it is visible (then 403)."""
        if self.manages(attributes):
            return
        if self.sees(attributes):
            raise ForbiddenError("this needs the workflows.manage permission in the run's tenant")
        raise not_found(workflow_id)


def not_found(workflow_id: str) -> NotFoundError:
    """The one answer for a run that does not exist and one the caller may not see."""
    return NotFoundError(f"workflow run {workflow_id!r} not found")


def filter_query(scope: Scope, run_filter: RunFilter, *, extra: str | None = None) -> str:
    """The visibility query of ``run_filter`` within ``scope`` (``extra``: a fixed clause of
    ours, e.g. a status a batch needs)."""
    clauses: list[str] = []
    own = scope.clause()
    if own is not None:
        clauses.append(own)
    if run_filter.type is not None:
        if not _TYPE.fullmatch(run_filter.type):
            raise InvalidInputError("type is not a workflow type name")
        clauses.append(f"WorkflowType = {literal(run_filter.type)}")
    if run_filter.status is not None:
        clauses.append(f"ExecutionStatus = {literal(VISIBILITY_STATUS[run_filter.status])}")
    if run_filter.tenant_id is not None:
        tenant = uuid_value(run_filter.tenant_id, "tenant_id")
        clauses.append(f"{search_attributes.TENANT_ID.name} = {literal(tenant)}")
    if run_filter.user_id is not None:
        user = uuid_value(run_filter.user_id, "user_id")
        clauses.append(f"{search_attributes.USER_ID.name} = {literal(user)}")
    if run_filter.since is not None:
        clauses.append(f"StartTime >= {time_literal(run_filter.since)}")
    if run_filter.until is not None:
        clauses.append(f"StartTime <= {time_literal(run_filter.until)}")
    if run_filter.since and run_filter.until and run_filter.since > run_filter.until:
        raise InvalidInputError("since is after until")
    if extra is not None:
        clauses.append(extra)
    return " AND ".join(f"({c})" for c in clauses)
