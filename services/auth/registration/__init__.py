"""Auth capability: registration (``POST /auth/register``, ``POST /auth/verify-email``).

The ``user_registration`` workflow and its activities are registered by the core feature."""

from services.auth.feature import Feature
from services.auth.registration.routes import router

FEATURE = Feature(name="registration", router=router)
