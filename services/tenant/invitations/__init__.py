"""Invitations: invite, list, resend, revoke (``routes``) and decline by token (``answers``); the
token's format and what is stored of it (``tokens``); the mail (``mails``). Accepting is the
membership workflow's (``services/tenant/membership``)."""

from services.common.feature import Feature
from services.tenant.invitations.routes import router

FEATURE = Feature(name="invitations", router=router)
