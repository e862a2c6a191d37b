"""Auth capability: MFA (TOTP + recovery codes): routes, the ``mfa_setup`` workflow, activities."""

from services.auth.mfa.activities import MfaActivities
from services.auth.mfa.routes import router
from services.auth.runtime import with_runtime
from services.common.feature import Feature
from workflows.auth.mfa_setup import MfaSetupWorkflow

FEATURE = Feature(
    name="mfa",
    router=router,
    workflows=[MfaSetupWorkflow],
    activities=with_runtime(lambda runtime: MfaActivities(runtime).all()),
)
