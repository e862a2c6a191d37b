"""Tenant capability: its side of the GDPR procedures (workflows/compliance/): a person's
memberships and the tenants they alone own, their export part, an ownership transfer while an
erasure waits, and their erasure."""

from services.common.feature import Feature
from services.tenant.compliance.activities import TenantComplianceActivities

FEATURE = Feature(
    name="compliance",
    activities=lambda resources: TenantComplianceActivities(resources).all(),
)
