"""Tenant service wiring (routes on 8085; workflows arrive with the tenant issue)."""

from __future__ import annotations

from services.common.feature import Feature
from services.common.runner import ServiceSpec
from services.common.settings import ServiceName
from services.tenant import (
    billing,
    bulk_import,
    domains,
    invitations,
    members,
    membership,
    onboarding,
    profile_copies,
    provisioning,
    reconciliation,
    roles,
    share_recipients,
    suspension,
    switching,
    tenants,
)
from services.tenant.compliance import FEATURE as COMPLIANCE

#: Its capabilities, as ``Feature``s (``services/common/feature.py``).
FEATURES: tuple[Feature, ...] = (
    tenants.FEATURE,
    members.FEATURE,
    roles.FEATURE,
    invitations.FEATURE,
    domains.FEATURE,
    switching.FEATURE,
    provisioning.FEATURE,
    membership.FEATURE,
    suspension.FEATURE,
    billing.FEATURE,
    onboarding.FEATURE,
    profile_copies.FEATURE,
    reconciliation.FEATURE,
    bulk_import.FEATURE,
    share_recipients.FEATURE,  # who a file share reaches (file_sharing)
    COMPLIANCE,  # GDPR export and erasure (workflows/compliance)
)

SPEC = ServiceSpec(name=ServiceName.tenant, title="ADX tenant service", features=FEATURES)
