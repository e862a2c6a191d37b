"""Auth capability: sso — OpenID Connect sign-in (routes, the ``sso_authentication`` workflow,
its activities)."""

from collections.abc import Callable, Sequence
from typing import Any

from services.auth.runtime import AuthRuntime, with_runtime
from services.auth.sso.activities import SsoActivities
from services.auth.sso.config import providers_of
from services.auth.sso.routes import router
from services.common.feature import Feature
from workflows.auth.sso_authentication import SsoAuthenticationWorkflow


def _activities(runtime: AuthRuntime) -> Sequence[Callable[..., Any]]:
    # A worker refuses to start on an invalid provider setting, naming it.
    providers_of(runtime.settings)
    return SsoActivities(runtime).all()


FEATURE = Feature(
    name="sso",
    router=router,
    workflows=[SsoAuthenticationWorkflow],
    activities=with_runtime(_activities),
)
