"""The tenant's part of the batched bulk import: a batch's memberships in one transaction. The
actor's right is ``user_onboarding``'s (``authorise_onboarding``: ``members.manage``, an active
membership, an active tenant, a known role whose permissions the actor may grant), checked once
per distinct role of the batch; a row whose role is refused fails alone. A person who is a
member already fails as such (their membership is left as it is); rows past the plan's seats
fail. The outcomes are recorded under the batch key with the memberships: a retry answers
them."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

from temporalio.exceptions import ApplicationError

from services.common.resources import Resources
from services.tenant.onboarding.activities import authorise_onboarding
from services.tenant.provisioning.steps import parse_id, require_actor, step_context
from storage.db import transaction
from storage.tenants.bulk_members import add_members, remove_members, roles_of
from storage.tenants.repository import MembershipChangeOutcomeRepository, MembershipRepository
from workflows.tenant import bulk_import_contracts as contracts
from workflows.user.contracts import UserWorkflow

FLOWS = (UserWorkflow.BULK_USER_OPERATION,)
NO_SEAT = "the tenant has no free seat on its plan"


class BulkImportMemberActivities:
    def __init__(self, resources: Resources) -> None:
        self.database = resources.database

    @contracts.ADD_MEMBERS.implement
    async def bulk_add_members(
        self, input: contracts.AddMembersInput
    ) -> contracts.AddMembersOutput:
        context = step_context(input.idempotency_key, *FLOWS)
        actor_id = require_actor(context, input.actor_id)
        tenant_id = parse_id(input.tenant_id, "tenant id")
        if len(input.rows) > contracts.MAX_MEMBER_ROWS:
            raise ApplicationError(
                f"at most {contracts.MAX_MEMBER_ROWS} rows a batch", non_retryable=True
            )
        user_ids = {row.row_number: parse_id(row.user_id, "user id") for row in input.rows}
        async with transaction(self.database, tenant_id) as db:
            recorded_outcomes = MembershipChangeOutcomeRepository(db, tenant_id)
            recorded = await recorded_outcomes.of_key(input.idempotency_key)
            if recorded is not None:  # an earlier attempt's, committed
                return contracts.AddMembersOutput(
                    [contracts.MemberOutcome(**o) for o in recorded["outcomes"]],
                    tenant_name=recorded.get("tenant_name", ""),
                )
            refused: dict[str, str] = {}
            granted: dict[str, list[str]] = {}
            tenant = None
            for role in dict.fromkeys(row.role for row in input.rows):
                try:
                    tenant, permissions = await authorise_onboarding(
                        db, context, tenant_id, actor_id, role, "bulk_import"
                    )
                except ApplicationError as error:
                    refused[role] = error.message
                else:
                    granted[role] = sorted(p.value for p in permissions)
            members = await roles_of(db, tenant_id, list(user_ids.values()))
            free = 0
            if tenant is not None:
                free = tenant.seat_quota - await MembershipRepository(db, tenant_id).count_active()
            outcomes: dict[int, contracts.MemberOutcome] = {}
            to_add: list[tuple[uuid.UUID, str]] = []
            for row in input.rows:
                user_id, number = user_ids[row.row_number], row.row_number
                if row.role in refused:
                    outcomes[number] = contracts.MemberOutcome(number, error=refused[row.role])
                elif user_id in members:
                    outcomes[number] = contracts.MemberOutcome(
                        number, error=contracts.ALREADY_MEMBER
                    )
                elif free <= 0:
                    outcomes[number] = contracts.MemberOutcome(number, error=NO_SEAT)
                else:
                    free -= 1
                    members[user_id] = row.role  # a repeat of the person later in the batch
                    to_add.append((user_id, row.role))
                    outcomes[number] = contracts.MemberOutcome(
                        number, created=True, permissions=granted[row.role]
                    )
            await add_members(db, tenant_id, to_add)
            output = contracts.AddMembersOutput(
                [outcomes[row.row_number] for row in input.rows],
                tenant_name=tenant.name if tenant is not None else "",
            )
            # Committed with the memberships or not at all.
            await recorded_outcomes.record(
                input.idempotency_key,
                {
                    "outcomes": [dataclasses.asdict(o) for o in output.outcomes],
                    "added": [str(user_id) for user_id, _ in to_add],
                    "tenant_name": output.tenant_name,
                },
            )
        return output

    @contracts.REMOVE_BATCH_MEMBERS.implement
    async def bulk_remove_members(
        self, input: contracts.RemoveBatchMembersInput
    ) -> contracts.RemoveBatchMembersOutput:
        """The compensation of a failed batch (or of its rows that failed in a later step:
        ``user_ids``): the memberships the batch under ``added_key`` added (as its recorded
        outcome says), none that were there before."""
        step_context(input.added_key, *FLOWS)
        tenant_id = parse_id(input.tenant_id, "tenant id")
        async with transaction(self.database, tenant_id) as db:
            recorded = await MembershipChangeOutcomeRepository(db, tenant_id).of_key(
                input.added_key
            )
            if recorded is None:  # the batch never committed: nothing of it to undo
                return contracts.RemoveBatchMembersOutput(removed=0)
            added = [uuid.UUID(raw) for raw in recorded.get("added", [])]
            if input.user_ids is not None:  # only the batch's rows that failed later
                wanted = {parse_id(raw, "user id") for raw in input.user_ids}
                added = [user_id for user_id in added if user_id in wanted]
            removed = await remove_members(db, tenant_id, added)
        return contracts.RemoveBatchMembersOutput(removed=len(removed))

    def all(self) -> list[Callable[..., Any]]:
        return [self.bulk_add_members, self.bulk_remove_members]
