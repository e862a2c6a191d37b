"""Auth capability: registration (routes, e-mail verification activities)."""

from services.auth.feature import Feature

FEATURE = Feature(name="registration")
