"""Workflow service wiring (routes on 8084; cross-service workflows arrive with their issues)."""

from __future__ import annotations

from services.common.runner import ServiceSpec
from services.common.settings import ServiceName

SPEC = ServiceSpec(name=ServiceName.workflow, title="ADX workflow service")
