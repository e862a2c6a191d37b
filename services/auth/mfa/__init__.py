"""Auth capability: MFA (TOTP + recovery codes): routes, the ``mfa_setup`` workflow, activities."""

from services.auth.feature import Feature
from services.auth.mfa.activities import MfaActivities
from services.auth.mfa.routes import router
from workflows.auth.mfa_setup import MfaSetupWorkflow

FEATURE = Feature(
    name="mfa",
    router=router,
    workflows=[MfaSetupWorkflow],
    activities=lambda runtime: MfaActivities(runtime).all(),
)
