"""Auth capability: auth's part of the batched bulk import (the accounts and claims of a batch;
the ``bulk_password_links`` workflow that mails its new accounts' set-password links and redeems
them; the ``bulk_user_operation`` workflow itself runs on the user service)."""

from services.auth.bulk_import.activities import BulkImportAccountActivities
from services.auth.bulk_import.password_links import BulkPasswordLinkActivities
from services.auth.runtime import with_runtime
from services.common.feature import Feature
from workflows.auth.bulk_password_links import BulkPasswordLinksWorkflow

FEATURE = Feature(
    name="bulk_import",
    workflows=[BulkPasswordLinksWorkflow],
    activities=with_runtime(
        lambda runtime: [
            *BulkImportAccountActivities(runtime).all(),
            *BulkPasswordLinkActivities(runtime).all(),
        ]
    ),
)
