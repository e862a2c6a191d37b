"""File capability: the tenant's storage policy (quota, allowed types) as its plan sets it,
written by the tenant flows through activities (docs/files.md, "Quota")."""

from services.common.feature import Feature
from services.file.quota.activities import QuotaActivities

FEATURE = Feature(
    name="quota",
    activities=lambda resources: QuotaActivities(resources).all(),
)
