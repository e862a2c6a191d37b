"""Tenant capability: the membership steps of the cross-service ``user_onboarding`` (activities
only; the workflow runs on the workflow service)."""

from services.common.feature import Feature
from services.tenant.onboarding.activities import OnboardingMemberActivities

FEATURE = Feature(
    name="onboarding",
    activities=lambda resources: OnboardingMemberActivities(resources).all(),
)
