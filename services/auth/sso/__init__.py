"""Auth capability: sso (routes, workflow, activities)."""

from services.auth.feature import Feature

FEATURE = Feature(name="sso")
