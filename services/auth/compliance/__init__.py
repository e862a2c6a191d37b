"""Auth capability: its side of the GDPR procedures (workflows/compliance/): the subject of a
request, the export part, every session revoked, the erasure, the compliance audit trail, and
operators' legal holds (``PUT``/``DELETE /auth/legal-holds/{user_id}``)."""

from services.auth.compliance.activities import AuthComplianceActivities
from services.auth.compliance.routes import router
from services.auth.runtime import with_runtime
from services.common.feature import Feature

FEATURE = Feature(
    name="compliance",
    router=router,
    activities=with_runtime(lambda runtime: AuthComplianceActivities(runtime).all()),
)
