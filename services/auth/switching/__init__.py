"""Auth capability: switching the caller's session into another of their tenants."""

from services.auth.switching.routes import router
from services.common.feature import Feature

FEATURE = Feature(name="switching", router=router)
