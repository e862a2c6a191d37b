"""Tenant service wiring (routes on 8085; workflows arrive with the tenant issue)."""

from __future__ import annotations

from services.common.feature import Feature
from services.common.runner import ServiceSpec
from services.common.settings import ServiceName

#: Its capabilities, as ``Feature``s (``services/common/feature.py``), arrive with the tenant issue.
FEATURES: tuple[Feature, ...] = ()

SPEC = ServiceSpec(name=ServiceName.tenant, title="ADX tenant service", features=FEATURES)
