"""File service wiring (routes on 8083; workflows arrive with the file issue)."""

from __future__ import annotations

from services.common.runner import ServiceSpec
from services.common.settings import ServiceName

SPEC = ServiceSpec(name=ServiceName.file, title="ADX file service")
