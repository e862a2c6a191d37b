"""Auth capability: password reset (routes, the ``password_reset`` workflow, its activities)."""

from services.auth.password_reset.activities import PasswordResetActivities
from services.auth.password_reset.routes import router
from services.auth.runtime import with_runtime
from services.common.feature import Feature
from workflows.auth.password_reset import PasswordResetWorkflow

FEATURE = Feature(
    name="password_reset",
    router=router,
    workflows=[PasswordResetWorkflow],
    activities=with_runtime(lambda runtime: PasswordResetActivities(runtime).all()),
)
