"""The GDPR domain's root fields (resolvers in ``resolvers/compliance.py``)."""

from __future__ import annotations

import strawberry

from resolvers.compliance import (
    resolve_cancel_account_erasure,
    resolve_decide_account_erasure_tenants,
    resolve_request_account_erasure,
    resolve_request_data_export,
)
from schema.compliance import ErasureCancellation, ErasureDecisionResult
from schema.workflow_runs import WorkflowRun


@strawberry.type
class ComplianceMutation:
    request_data_export: WorkflowRun = strawberry.mutation(
        resolver=resolve_request_data_export,
        description="Export everything ADX holds about you (GDPR Art. 15/20): the run gathers "
        "it into one archive and mails you an expiring download link.",
    )
    request_account_erasure: WorkflowRun = strawberry.mutation(
        resolver=resolve_request_account_erasure,
        description="Erase your account and data (GDPR Art. 17) after a grace period (confirm: "
        "true); your sessions end at once; you receive a signed receipt.",
    )
    cancel_account_erasure: ErasureCancellation = strawberry.mutation(
        resolver=resolve_cancel_account_erasure,
        description="Cancel your erasure during its grace period.",
    )
    decide_account_erasure_tenants: ErasureDecisionResult = strawberry.mutation(
        resolver=resolve_decide_account_erasure_tenants,
        description="For each tenant you alone own, which your erasure waits for: name a new "
        "owner (a member), or choose to delete it when the grace period is over.",
    )
