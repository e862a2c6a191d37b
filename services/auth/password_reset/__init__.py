"""Auth capability: password_reset (routes, workflow, activities)."""

from services.auth.feature import Feature

FEATURE = Feature(name="password_reset")
