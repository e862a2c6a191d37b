"""Auth capability: claims and sessions kept in step by other services' workflows."""

from services.auth.feature import Feature
from services.auth.principal.activities import PrincipalActivities

FEATURE = Feature(name="principal", activities=lambda runtime: PrincipalActivities(runtime).all())
