"""SCIM 2.0 for identity providers (issue 9; docs/users.md, "SCIM"): the tenant's members as
``Users``, its roles as ``Groups``, read (``routes``) and provisioned (``user_writes``, ``group_writes``: workflows that span the
services, waited for) through a tenant's own bearer tokens, which its admins issue and revoke
(``tokens``); ``POST``/``DELETE /Groups`` run the tenant's ``role_change``, whose user step is
``group_activities``. The ``/scim/v2`` routes (``routes``) are on the own-credential
allowlist of ``services/common/principal.py``: they take a SCIM token, never an access token."""

from fastapi import APIRouter

from services.common.feature import Feature
from services.user.scim.group_activities import ScimGroupActivities
from services.user.scim.group_writes import router as group_writes_router
from services.user.scim.routes import router as scim_router
from services.user.scim.tokens import router as tokens_router
from services.user.scim.user_writes import router as user_writes_router

router = APIRouter()
router.include_router(tokens_router)
router.include_router(user_writes_router)
router.include_router(group_writes_router)
router.include_router(scim_router)

FEATURE = Feature(
    name="scim",
    router=router,
    activities=lambda resources: ScimGroupActivities(resources).all(),
)
