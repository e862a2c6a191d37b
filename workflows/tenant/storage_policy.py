"""The storage policy a plan gives a tenant, as the tenant flows hand it to the file service
(``workflows/file/quota_contracts.py``)."""

from __future__ import annotations

from workflows.file.quota_contracts import PutStoragePolicyInput
from workflows.tenant.plans import terms


def plan_policy(
    tenant_id: str, plan: str, version: str, idempotency_key: str
) -> PutStoragePolicyInput:
    """``plan``'s quota (``workflows/tenant/plans.py``; the plans carry no type limits yet, so
    any type is allowed), written as of ``version``."""
    return PutStoragePolicyInput(
        tenant_id=tenant_id,
        quota_bytes=terms(plan).storage_quota_bytes,
        allowed_types=None,
        version=version,
        idempotency_key=idempotency_key,
    )
