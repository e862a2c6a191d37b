"""Auth capability: password reset (routes and the ``password_reset`` workflow; its activities
are the core ``AuthActivities``)."""

from services.auth.feature import Feature
from services.auth.password_reset.routes import router
from workflows.auth.password_reset import PasswordResetWorkflow

FEATURE = Feature(name="password_reset", router=router, workflows=[PasswordResetWorkflow])
