"""What the tenant flows' activities share: the checks of who may run a step (the run's security
context against the tenant's own rows) and the tenant's mails."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection

from services.common.mailer import EmailMessage
from services.common.security_context import (
    ActorKind,
    SecurityContext,
    denied,
    require_context,
    require_flow,
    require_run_scoped,
    this_run_prefix,
)
from storage.db import DbSession
from storage.tenants.lifecycle import tenant_row
from storage.tenants.models import Membership, Tenant
from storage.tenants.repository import MembershipRepository, RoleRepository
from workflows.common.errors import business_error
from workflows.tenant.contracts import TenantError
from workflows.tenant.permissions import Permission, built_in_permissions
from workflows.tenant.provisioning_contracts import TenantMail


def parse_id(raw: str | None, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise business_error(TenantError.INVALID_INPUT, f"invalid {what}") from None


def step_context(key: str, *flows: str) -> SecurityContext:
    """A step of one of ``flows`` writing under this run's key (``system`` passes)."""
    context = require_context()
    require_flow(context, *flows)
    require_run_scoped(context, key)
    return context


def require_actor(context: SecurityContext, actor_id: str) -> uuid.UUID:
    """The input's actor is the run's starter (or the platform acts)."""
    if not context.acts_for(actor_id):
        raise denied("the run acts for another user than the input names")
    return parse_id(actor_id, "user id")


def created_by_this_run(context: SecurityContext, tenant: Tenant) -> bool:
    return context.actor == ActorKind.system or tenant.idempotency_key.startswith(this_run_prefix())


async def existing_tenant(db: DbSession, tenant_id: uuid.UUID, *, lock: bool = True) -> Tenant:
    tenant = await tenant_row(db, tenant_id, lock=lock)
    if tenant is None:
        raise business_error(TenantError.TENANT_NOT_FOUND, f"tenant {tenant_id} not found")
    return tenant


async def permissions_of(db: DbSession, tenant_id: uuid.UUID, role: str) -> frozenset[Permission]:
    built_in = built_in_permissions(role)
    if built_in is not None:
        return built_in
    row = await RoleRepository(db, tenant_id).by_name(role)
    known = Permission._value2member_map_
    return frozenset(Permission(p) for p in (row.permissions if row else []) if p in known)


async def actor_membership(
    db: DbSession,
    context: SecurityContext,
    tenant_id: uuid.UUID,
    actor_id: uuid.UUID,
    needs: Collection[Permission] = (),
) -> tuple[Membership | None, frozenset[Permission]]:
    """The actor's membership (any status) and permissions; ``system`` needs none. A user
    without the membership or one of ``needs`` is refused."""
    membership = await MembershipRepository(db, tenant_id).of_user(actor_id)
    if membership is None:
        if context.actor == ActorKind.system:
            return None, frozenset(Permission)
        raise business_error(TenantError.NOT_A_MEMBER, f"tenant {tenant_id} not found")
    permissions = await permissions_of(db, tenant_id, membership.role)
    missing = sorted(p.value for p in needs if p not in permissions)
    if missing and context.actor != ActorKind.system:
        raise business_error(
            TenantError.PERMISSION_DENIED, "this needs the permission " + ", ".join(missing)
        )
    return membership, permissions


_SUBJECTS = {
    TenantMail.WELCOME: "Your workspace {name} is ready",
    TenantMail.SUSPENDED: "The workspace {name} is suspended",
    TenantMail.RESUMED: "The workspace {name} is active again",
    TenantMail.DELETION_SCHEDULED: "The workspace {name} will be deleted",
    TenantMail.DELETED: "The workspace {name} has been deleted",
    TenantMail.MEMBER_REMOVED: "You were removed from the workspace {name}",
}
_TEXTS = {
    TenantMail.WELCOME: "Your new workspace {name} is ready. You are its owner: invite your "
    "team, choose their roles and manage the plan from its settings.",
    TenantMail.SUSPENDED: "The workspace {name} was suspended by its administrators. Its data "
    "is kept; signing in to it is not possible until it is resumed.",
    TenantMail.RESUMED: "The workspace {name} was resumed: you can sign in to it again.",
    TenantMail.DELETION_SCHEDULED: "The workspace {name} is scheduled for deletion on "
    "{delete_after}. Until then an owner can still cancel the deletion by resuming it; "
    "afterwards its data is exported for the owners and then erased.",
    TenantMail.DELETED: "The workspace {name} has been deleted: its data was exported and erased.",
    TenantMail.MEMBER_REMOVED: "You are no longer a member of the workspace {name}.",
}


def tenant_mail(
    template: str, to: str, name: str, delete_after: str | None, key: str
) -> EmailMessage:
    if template not in _SUBJECTS:
        raise business_error(TenantError.INVALID_INPUT, f"unknown mail template {template!r}")
    values = {"name": name or "your workspace", "delete_after": delete_after or "soon"}
    digest = hashlib.sha256(f"{key}:{to}".encode()).hexdigest()
    return EmailMessage(
        to=to,
        subject=_SUBJECTS[template].format(**values),
        text=_TEXTS[template].format(**values) + "\n",
        dedup_key=digest,
    )
