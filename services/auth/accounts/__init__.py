"""Auth capability: accounts, the steps every flow shares (one-time tokens, link mails, e-mail
verification, passwords, sessions); activities only, called by the flows' workflows."""

from services.auth.accounts.activities import AccountActivities
from services.auth.runtime import with_runtime
from services.common.feature import Feature

FEATURE = Feature(
    name="accounts", activities=with_runtime(lambda runtime: AccountActivities(runtime).all())
)
