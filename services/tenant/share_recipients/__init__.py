"""Tenant capability: who a file share reaches (``tenant.share_recipients``, called by the file
service's ``file_sharing``): the grantee checked against the tenant's members and roles, and
the addresses of the active members the share reaches (docs/files.md, "Sharing")."""

from services.common.feature import Feature
from services.tenant.share_recipients.activities import ShareRecipientActivities

FEATURE = Feature(
    name="share_recipients",
    activities=lambda resources: ShareRecipientActivities(resources).all(),
)
