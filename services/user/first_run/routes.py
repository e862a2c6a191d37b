"""The first-run set-up over HTTP. Direct (no workflow): a read of this service's own rows.

- ``GET /users/me/checklist``: the caller's profile-completion checklist in their active
  tenant (written by ``user_first_run``); the profile items as the profile is now.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.tenant_db import TenantDb
from services.user.access import caller_id
from services.user.errors import user_error
from services.user.first_run.checklist import checklist_of, stored_password_set
from services.user.schemas import ChecklistEntryOut, ChecklistOut
from storage.users.first_runs import FirstRunRepository
from storage.users.repository import ProfileRepository
from workflows.user.contracts import UserError

router = APIRouter(prefix="/users", tags=["first run"])  # authenticated app-wide (create_app)

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: problem_response(404, "No active tenant, or no first-run set-up in it")
}


@router.get("/me/checklist", responses=NOT_FOUND)
async def my_checklist(principal: PrincipalDep, db: TenantDb) -> ChecklistOut:
    me = caller_id(principal)
    missing = user_error(UserError.USER_NOT_FOUND, "no first-run set-up in this tenant")
    if not principal.tenant_id:
        raise missing
    tenant_id = uuid.UUID(principal.tenant_id)
    row = await FirstRunRepository(db, tenant_id).of(me)
    profile = await ProfileRepository(db).get(me)
    if row is None or profile is None:
        raise missing
    items = checklist_of(profile, password_set=stored_password_set(row.checklist))
    return ChecklistOut(
        tenant_id=tenant_id,
        items=[ChecklistEntryOut(item=e.item, done=e.done) for e in items],
        complete=all(e.done for e in items),
        welcome_sent_at=row.welcome_sent_at,
    )
