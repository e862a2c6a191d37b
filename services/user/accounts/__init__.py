"""User capability: deactivation and reactivation (``user_deactivation``, docs/users.md): the
start routes, the workflow, and the user service's own steps of it."""

from services.common.feature import Feature
from services.user.accounts.activities import AccountStatusActivities
from services.user.accounts.routes import router
from workflows.accounts.user_deactivation import UserDeactivationWorkflow

FEATURE = Feature(
    name="accounts",
    router=router,
    workflows=[UserDeactivationWorkflow],
    activities=lambda resources: AccountStatusActivities(resources).all(),
)
