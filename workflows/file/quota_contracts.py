"""Contracts of the file service's storage-policy activities (queue ``<prefix>-file``), which
the tenant flows call when a plan is set or changed (``tenant_provisioning``,
``tenant_upgrade``): the tenant's quota and allowed types, written by the file service into its
own ``storage_policies`` row (docs/files.md, "Quota")."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.common.contracts import ActivityContract
from workflows.file.tenant_storage_contracts import FILE

#: The patch id the tenant flows guard their policy steps with (histories before it replay).
STORAGE_POLICY_PATCH = "file-storage-policy"


@dataclass
class PutStoragePolicyInput:
    tenant_id: str
    quota_bytes: int
    #: Detected types or families (``image/*``) the plan allows; None: any.
    allowed_types: list[str] | None
    #: When the plan change was decided (``workflow.now()``, ISO 8601): the row's version. A
    #: write older than the row's is ignored, so a late retry never undoes a newer change.
    version: str
    idempotency_key: str


@dataclass
class PutStoragePolicyOutput:
    #: False when the row already held this or a newer version (a retry, or a late write).
    applied: bool


PUT_STORAGE_POLICY = ActivityContract(
    "file.put_storage_policy", FILE, PutStoragePolicyInput, PutStoragePolicyOutput
)


@dataclass
class RemoveStoragePolicyInput:
    tenant_id: str
    idempotency_key: str


@dataclass
class RemoveStoragePolicyOutput:
    removed: bool


#: The provisioning's compensation of ``PUT_STORAGE_POLICY`` (idempotent).
REMOVE_STORAGE_POLICY = ActivityContract(
    "file.remove_storage_policy", FILE, RemoveStoragePolicyInput, RemoveStoragePolicyOutput
)
