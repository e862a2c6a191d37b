"""Workflow-service capability: the cross-service ``user_onboarding`` (workflows/onboarding/),
run on ``<prefix>-workflow``; its steps are the auth, tenant and user services' activities
(their ``onboarding`` and ``first_run`` features), its first-run part the user service's child
``user_first_run``. No routes: callers start it by name, or with ``services/common/onboarding.py``."""

from services.common.feature import Feature
from workflows.onboarding.user_onboarding import UserOnboardingWorkflow

FEATURE = Feature(name="onboarding", workflows=[UserOnboardingWorkflow])
