"""User capability: its side of the GDPR procedures (workflows/compliance/): profile,
preferences, directory entries and first-run rows exported (``user.export_personal_data``) and
erased (``user.erase_personal_data``)."""

from services.common.feature import Feature
from services.user.compliance.activities import UserComplianceActivities

FEATURE = Feature(
    name="compliance",
    activities=lambda resources: UserComplianceActivities(resources).all(),
)
