"""Preferences: a user's own, for every tenant and within one, validated against the published,
versioned JSON Schema (``schema_v1.json``, ``document``), served with its defaults (``routes``)."""

from services.common.feature import Feature
from services.user.preferences.routes import router

FEATURE = Feature(name="preferences", router=router)
