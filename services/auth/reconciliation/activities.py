"""``auth.reconcile_claims`` (queue ``<prefix>-auth``): auth's claims of one tenant compared
with the tenant service's batch of memberships over the same key range;
``auth.reconcile_profile_claims``: the display name and profile version on the credentials
compared with the user service's profiles (the ``profile_names`` copy). Reads only."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from services.auth.runtime import AuthRuntime
from services.common.reconciliation import checked, key_range, require_platform
from storage.auth.reconciliation import claims_between, credential_names
from storage.db import transaction
from workflows.reconciliation.contracts import (
    COMPARE_CLAIMS,
    COMPARE_PROFILE_CLAIMS,
    CompareInput,
    CompareOutput,
    CompareProfilesInput,
)
from workflows.reconciliation.rules import checked_profiles, drift_of, parse_id


class ClaimsReconciliationActivities:
    def __init__(self, runtime: AuthRuntime) -> None:
        self.database = runtime.resources.database

    @COMPARE_CLAIMS.implement
    async def reconcile_claims(self, input: CompareInput) -> CompareOutput:
        require_platform()
        tenant_id = checked(lambda: parse_id(input.tenant_id, "tenant id"))
        after, upto = key_range(input.after, input.upto)
        expected: dict[uuid.UUID, object] = checked(
            lambda: {
                parse_id(m.user_id, "user id"): ([m.role], sorted(m.permissions))
                for m in input.members
            }
        )
        async with transaction(self.database) as db:
            rows = await claims_between(db, tenant_id, after, upto)
        held: dict[uuid.UUID, object] = {
            u: (sorted(roles), sorted(perms)) for u, (roles, perms) in rows.items()
        }
        return drift_of(expected, held)

    @COMPARE_PROFILE_CLAIMS.implement
    async def reconcile_profile_claims(self, input: CompareProfilesInput) -> CompareOutput:
        require_platform()
        checked(lambda: parse_id(input.tenant_id, "tenant id"))
        owner = checked(lambda: checked_profiles(input.profiles))
        async with transaction(self.database) as db:
            rows = await credential_names(db, list(owner)) if owner else {}
        expected: dict[uuid.UUID, object] = {
            u: (p.display_name, p.version) for u, p in owner.items()
        }
        return drift_of(expected, {u: tuple(v) for u, v in rows.items()}, version_at=1)

    def all(self) -> list[Callable[..., Any]]:
        return [self.reconcile_claims, self.reconcile_profile_claims]
