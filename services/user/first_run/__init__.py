"""User capability: the first-run set-up of a new member (``user_first_run``, the child of the
cross-service ``user_onboarding``; docs/users.md): its activities, and the checklist route."""

from services.common.feature import Feature
from services.user.first_run.activities import FirstRunActivities
from services.user.first_run.routes import router
from workflows.user.first_run import UserFirstRunWorkflow

FEATURE = Feature(
    name="first_run",
    router=router,
    workflows=[UserFirstRunWorkflow],
    activities=lambda resources: FirstRunActivities(resources).all(),
)
