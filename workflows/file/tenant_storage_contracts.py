"""Contracts of the file service's tenant storage activities (queue ``<prefix>-file``), which
the tenant flows call: a new tenant's storage prefix, and a deleted tenant's export and erasure
(the file service exports and erases its own rows and blobs; docs/tenancy.md)."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.common.contracts import ActivityContract

#: The service (task queue ``<prefix>-file``) that runs these activities.
FILE = "file"
#: The marker blob that says a tenant's storage prefix was provisioned (and by which run).
PREFIX_MARKER = ".adx-tenant"


@dataclass
class ProvisionTenantStorageInput:
    tenant_id: str
    #: ``tenants/<tenant id>/`` (``provisioning_contracts.storage_prefix``).
    prefix: str
    idempotency_key: str


@dataclass
class ProvisionTenantStorageOutput:
    prefix: str
    #: False when the marker was there already (a retried step).
    created: bool


PROVISION_TENANT_STORAGE = ActivityContract(
    "file.provision_tenant_storage",
    FILE,
    ProvisionTenantStorageInput,
    ProvisionTenantStorageOutput,
)


@dataclass
class ExportTenantFilesInput:
    tenant_id: str
    prefix: str
    #: Where the export goes (``exports/tenants/<tenant id>/<run>/``); files under ``files/``.
    export_prefix: str
    idempotency_key: str


@dataclass
class ExportTenantFilesOutput:
    #: The blob key of the JSON manifest of the tenant's file rows.
    manifest_key: str
    files: int
    bytes: int


EXPORT_TENANT_FILES = ActivityContract(
    "file.export_tenant_files", FILE, ExportTenantFilesInput, ExportTenantFilesOutput
)


@dataclass
class EraseTenantStorageInput:
    tenant_id: str
    prefix: str
    idempotency_key: str


@dataclass
class EraseTenantStorageOutput:
    files: int
    blobs: int


#: The tenant's file rows and blobs, and its prefix marker: compensation of
#: ``PROVISION_TENANT_STORAGE`` and the file step of a deletion (idempotent).
ERASE_TENANT_STORAGE = ActivityContract(
    "file.erase_tenant_storage", FILE, EraseTenantStorageInput, EraseTenantStorageOutput
)
