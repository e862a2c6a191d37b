"""File capability: a tenant's storage prefix, and the export and erasure of a deleted tenant's
files (activities the tenant flows call; docs/tenancy.md)."""

from services.common.feature import Feature
from services.file.tenant_storage.activities import TenantStorageActivities

FEATURE = Feature(
    name="tenant_storage",
    activities=lambda resources: TenantStorageActivities(resources).all(),
)
