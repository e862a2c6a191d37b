"""The user domain's root fields: profiles, preferences, the tenant directory, deactivation
(resolvers in ``resolvers/users.py``, which states which are direct and which start workflows).
``me``'s ``profile`` and ``preferences`` are fields of auth's ``Me`` (``schema/auth.py``)."""

from __future__ import annotations

import strawberry

from resolvers.users import (
    resolve_bulk_user_operation,
    resolve_bulk_user_operation_report,
    resolve_deactivate_user,
    resolve_reactivate_user,
    resolve_update_preferences,
    resolve_update_profile,
    resolve_user,
    resolve_users,
)
from schema.bulk_users import BulkUserOperationReport
from schema.users import DirectoryConnection, Preferences, UserProfile
from schema.workflow_runs import WorkflowRun


@strawberry.type
class UserQuery:
    user: UserProfile | None = strawberry.field(
        resolver=resolve_user,
        description="A user's whole profile: yours, or a member of your active tenant with "
        "users.read; null for anyone else, as for an unknown id.",
    )
    users: DirectoryConnection = strawberry.field(
        resolver=resolve_users,
        description="Search the directory of your active tenant (needs users.read).",
    )
    bulk_user_operation_report: BulkUserOperationReport = strawberry.field(
        resolver=resolve_bulk_user_operation_report,
        description="A bulk operation's rows and their results (needs members.manage in the "
        "run's tenant).",
    )


@strawberry.type
class UserMutation:
    update_profile: UserProfile = strawberry.mutation(
        resolver=resolve_update_profile, description="Change your own profile."
    )
    update_preferences: Preferences = strawberry.mutation(
        resolver=resolve_update_preferences,
        description="Replace your preferences (user-level, or with tenantId your active "
        "tenant's); checked against the published schema.",
    )
    deactivate_user: WorkflowRun = strawberry.mutation(
        resolver=resolve_deactivate_user,
        description="Deactivate a member (user_deactivation): logins refused, sessions ended, "
        "memberships suspended.",
    )
    reactivate_user: WorkflowRun = strawberry.mutation(
        resolver=resolve_reactivate_user,
        description="Undo a deactivation (user_deactivation, reversed).",
    )
    bulk_user_operation: WorkflowRun = strawberry.mutation(
        resolver=resolve_bulk_user_operation,
        description="One operation over many users of your active tenant "
        "(bulk_user_operation; needs members.manage): import, change_role, deactivate, delete.",
    )
