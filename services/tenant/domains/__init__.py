"""Domains: claim, list, verify by DNS TXT record, auto-join role, remove (``routes``); the DNS
check (``verification``)."""

from services.common.feature import Feature
from services.tenant.domains.routes import router

FEATURE = Feature(name="domains", router=router)
