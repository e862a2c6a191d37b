"""Auth capability: mfa (routes, workflow, activities)."""

from services.auth.feature import Feature

FEATURE = Feature(name="mfa")
