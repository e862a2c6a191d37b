"""File service wiring (routes on 8083; workflows arrive with the file issue)."""

from __future__ import annotations

from services.common.feature import Feature
from services.common.runner import ServiceSpec
from services.common.settings import ServiceName

#: Its capabilities, as ``Feature``s (``services/common/feature.py``), arrive with the file issue.
FEATURES: tuple[Feature, ...] = ()

SPEC = ServiceSpec(name=ServiceName.file, title="ADX file service", features=FEATURES)
