"""The tenant domain's errors as HTTP answers, mapped once.

Every ``TenantError`` (``workflows/tenant/contracts.py``) has one status here; a route raises
``tenant_error(TenantError.X, detail)`` (or lets a ``RuleViolation`` of ``workflows/tenant/rules.py``
become one through :func:`from_rule`), and a route that reaches a workflow maps the run's
``ApplicationError`` types with :data:`TENANT_FAILURES` (``services/common/workflow_calls.py``).
The problem+json body carries ``code``: the ``TenantError`` value, stable for clients and for
the gateway's error table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from temporalio.exceptions import ApplicationError

from services.common.errors import DomainError
from workflows.tenant.contracts import TenantError
from workflows.tenant.rules import RuleViolation

#: (status, title) of each error type.
STATUS: Final[Mapping[TenantError, tuple[int, str]]] = {
    TenantError.INVALID_INPUT: (422, "Invalid input"),
    TenantError.SLUG_TAKEN: (409, "Slug taken"),
    TenantError.TENANT_NOT_FOUND: (404, "Not found"),
    TenantError.TENANT_NOT_ACTIVE: (409, "Tenant not active"),
    # A non-member learns nothing about the tenant: the same 404 as an unknown one.
    TenantError.NOT_A_MEMBER: (404, "Not found"),
    TenantError.MEMBER_NOT_FOUND: (404, "Member not found"),
    TenantError.ALREADY_A_MEMBER: (409, "Already a member"),
    TenantError.PERMISSION_DENIED: (403, "Permission denied"),
    TenantError.OWNER_REQUIRED: (403, "Owner required"),
    TenantError.LAST_OWNER: (409, "Last owner"),
    TenantError.GRANT_EXCEEDS_OWN: (403, "Grant exceeds your permissions"),
    TenantError.UNKNOWN_ROLE: (422, "Unknown role"),
    TenantError.ROLE_EXISTS: (409, "Role exists"),
    TenantError.ROLE_IN_USE: (409, "Role in use"),
    TenantError.SEAT_QUOTA_EXCEEDED: (409, "Seat quota exceeded"),
    # Unknown, spent, revoked, expired, tampered: one answer, as for no such invitation.
    TenantError.INVALID_INVITATION: (404, "Invalid or expired invitation"),
    TenantError.DOMAIN_TAKEN: (409, "Domain taken"),
    TenantError.DOMAIN_NOT_VERIFIED: (409, "Domain not verified"),
    TenantError.PAYMENT_FAILED: (402, "Payment failed"),
    TenantError.PAYMENT_TIMED_OUT: (409, "Payment timed out"),
    TenantError.BILLING_UNAVAILABLE: (503, "Billing unavailable"),
    TenantError.PROVISIONING_FAILED: (503, "Provisioning failed"),
}

PROBLEM_BASE: Final = "https://adx.dev/problems/tenant/"


class TenantProblem(DomainError):
    """One ``TenantError`` as problem+json: status and title from :data:`STATUS`, ``type``
    ``https://adx.dev/problems/tenant/<TenantError>``, ``code`` the ``TenantError`` value."""

    def __init__(self, error: TenantError, detail: str) -> None:
        super().__init__(detail, extra={"code": error.value})
        self.error = error
        self.status, self.title = STATUS[error]
        self.type = PROBLEM_BASE + error.value


def tenant_error(error: TenantError, detail: str) -> TenantProblem:
    return TenantProblem(error, detail)


def from_rule(violation: RuleViolation) -> TenantProblem:
    return TenantProblem(violation.error, violation.message)


def _mapped(error: TenantError) -> Callable[[ApplicationError], DomainError]:
    return lambda cause: TenantProblem(error, cause.message or STATUS[error][1])


#: For ``WorkflowErrors(failures=TENANT_FAILURES, ...)``: every tenant business failure.
TENANT_FAILURES: Final[Mapping[str, Callable[[ApplicationError], DomainError]]] = {
    error.value: _mapped(error) for error in TenantError
}
