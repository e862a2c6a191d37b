"""Auth capability: the account steps of the cross-service ``user_onboarding`` (activities only;
the workflow runs on the workflow service)."""

from services.auth.onboarding.activities import OnboardingAccountActivities
from services.auth.runtime import with_runtime
from services.common.feature import Feature

FEATURE = Feature(
    name="onboarding",
    activities=with_runtime(lambda runtime: OnboardingAccountActivities(runtime).all()),
)
