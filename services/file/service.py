"""File service wiring (routes on 8083; its own workflows arrive with the file issue)."""

from __future__ import annotations

from services.common.feature import Feature
from services.common.runner import ServiceSpec
from services.common.settings import ServiceName
from services.file import tenant_storage, user_files

#: Its capabilities, as ``Feature``s (``services/common/feature.py``): so far the activities the
#: tenant flows call (a tenant's storage prefix, export and erasure), and a deactivated user's
#: files (``user_deactivation``, a no-op until files have owners).
FEATURES: tuple[Feature, ...] = (tenant_storage.FEATURE, user_files.FEATURE)

SPEC = ServiceSpec(name=ServiceName.file, title="ADX file service", features=FEATURES)
