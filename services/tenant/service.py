"""Tenant service wiring (routes on 8085; workflows arrive with the tenant issue)."""

from __future__ import annotations

from services.common.runner import ServiceSpec
from services.common.settings import ServiceName

SPEC = ServiceSpec(name=ServiceName.tenant, title="ADX tenant service")
