"""File service wiring (routes on 8083, queue ``adx-file``; docs/files.md)."""

from __future__ import annotations

from services.common.feature import Feature
from services.common.runner import ServiceSpec
from services.common.settings import ServiceName
from services.file import files, owner_names, tenant_storage, uploads, user_files

#: Its capabilities, as ``Feature``s (``services/common/feature.py``): file metadata, uploads
#: (``file_upload``), the activities the tenant flows call (a tenant's storage prefix, export and
#: erasure), and a deactivated user's files (``user_deactivation``, a no-op so far).
FEATURES: tuple[Feature, ...] = (
    uploads.FEATURE,
    files.FEATURE,
    tenant_storage.FEATURE,
    user_files.FEATURE,
    owner_names.FEATURE,
)

SPEC = ServiceSpec(name=ServiceName.file, title="ADX file service", features=FEATURES)
