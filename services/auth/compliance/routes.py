"""Operators' legal holds: ``PUT /auth/legal-holds/{user_id}`` ``{reason}`` sets one (an erasure
of that account then ends with outcome ``legal_hold``, nothing erased), ``DELETE`` releases it.
Operators only (a platform role: ``ADX_WORKFLOW_OPERATOR_USER_IDS``); every change audited."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.auth.dependencies import RuntimeDep
from services.common.errors import ForbiddenError, NotFoundError
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.tokens import Principal
from storage.auth import compliance
from storage.auth.audit import AuditRepository
from storage.db import transaction

router = APIRouter(prefix="/auth/legal-holds", tags=["compliance"])
_REFUSED: dict[int | str, dict[str, Any]] = {
    403: problem_response(403, "Not an operator (ADX_WORKFLOW_OPERATOR_USER_IDS)")
}
_NO_HOLD: dict[int | str, dict[str, Any]] = {
    404: problem_response(404, "No legal hold on this account")
}


class LegalHoldRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class LegalHold(BaseModel):
    user_id: uuid.UUID
    held: bool


def _require_operator(principal: Principal, operators: str) -> uuid.UUID:
    ids = set()
    for part in operators.split(","):
        try:
            ids.add(uuid.UUID(part.strip()))
        except ValueError:
            continue
    actor = uuid.UUID(principal.user_id)
    if actor not in ids:
        raise ForbiddenError("only operators set or release legal holds")
    return actor


@router.put("/{user_id}", responses=_REFUSED)
async def set_hold(
    user_id: uuid.UUID, body: LegalHoldRequest, principal: PrincipalDep, runtime: RuntimeDep
) -> LegalHold:
    actor = _require_operator(principal, runtime.settings.workflow_operator_user_ids)
    async with transaction(runtime.resources.database) as db:
        await compliance.set_hold(db, user_id, body.reason, actor)
        await AuditRepository(db).record(
            "compliance.legal_hold_set", user_id=user_id, operator=str(actor)
        )
    return LegalHold(user_id=user_id, held=True)


@router.delete("/{user_id}", responses={**_REFUSED, **_NO_HOLD})
async def release_hold(
    user_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep
) -> LegalHold:
    actor = _require_operator(principal, runtime.settings.workflow_operator_user_ids)
    async with transaction(runtime.resources.database) as db:
        if not await compliance.release_hold(db, user_id):
            raise NotFoundError("no legal hold on this account")
        await AuditRepository(db).record(
            "compliance.legal_hold_released", user_id=user_id, operator=str(actor)
        )
    return LegalHold(user_id=user_id, held=False)
