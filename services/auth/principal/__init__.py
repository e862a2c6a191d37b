"""Auth capability: claims and sessions kept in step by other services' workflows, and the
addresses of accounts those workflows mail (``auth.account_emails``), and an account
deactivated by the user service's ``user_deactivation`` (``auth.set_account_status``)."""

from services.auth.principal.account_emails import AccountEmailActivities
from services.auth.principal.account_status import AccountStatusActivities
from services.auth.principal.activities import PrincipalActivities
from services.auth.runtime import with_runtime
from services.common.feature import Feature

FEATURE = Feature(
    name="principal",
    activities=with_runtime(
        lambda runtime: [
            *PrincipalActivities(runtime).all(),
            *AccountEmailActivities(runtime).all(),
            *AccountStatusActivities(runtime).all(),
        ]
    ),
)
