"""Fixtures of the quota tests: the tenant flows' stacks (``tenant_stack``, the billing
``upgrade_queue`` on localstripe), shared with the tenant tests rather than copied."""

from tests.tenant.billing.conftest import upgrade_queue  # noqa: F401
from tests.tenant.conftest import stripe_billing, stripe_emulator, tenant_stack  # noqa: F401
