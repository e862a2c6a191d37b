"""The contract of ``user_onboarding`` (queue ``<prefix>-workflow``): what a caller — an accepted
invitation, a bulk import row, a SCIM ``POST /Users`` — passes and gets back.

``user_onboarding`` spans auth (account, claims), user (profile, defaults, directory, through its
child ``user_first_run`` on ``<prefix>-user``) and tenant (membership), and compensates every step
done when a later one fails. Callers start it as a workflow (or a child workflow) by this name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

#: The workflow service's task-queue suffix (``sibling_queue(WORKFLOW)``).
WORKFLOW = "workflow"


class OnboardingWorkflow:
    """Workflow type names (as histories record them, never renamed)."""

    #: The cross-service onboarding (queue ``<prefix>-workflow``).
    USER_ONBOARDING: Final = "user_onboarding"
    #: The user service's first-run set-up, run as ``user_onboarding``'s child (``<prefix>-user``).
    USER_FIRST_RUN: Final = "user_first_run"


class Source(StrEnum):
    """Where an onboarding request came from (``UserOnboardingInput.source``)."""

    INVITATION = "invitation"
    BULK_IMPORT = "bulk_import"
    SCIM = "scim"
    ADMIN = "admin"


@dataclass
class UserOnboardingInput:
    """One person to land in ``tenant_id``. ``email`` and names are personal data: the payload
    codec encrypts them; no secret (password, token) is ever part of this input."""

    tenant_id: str
    email: str
    #: The tenant role the membership gets (a built-in or custom role name).
    role: str
    #: Who asks (an admin, the SCIM token's tenant admin, or the person accepting an invitation).
    actor_id: str
    display_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    locale: str | None = None
    time_zone: str | None = None
    #: Send the welcome mail (in the person's locale).
    send_welcome: bool = True
    #: Where the request came from: "invitation", "bulk_import", "scim", "admin".
    source: str = "admin"
    #: The SCIM ``externalId`` or import row key, kept for the caller's report (optional).
    external_id: str | None = None
    #: Makes retries of the whole operation idempotent (also the base of activity keys).
    idempotency_key: str = ""
    #: How long the link that sets a new account's first password works (``password_reset``).
    password_link_ttl_seconds: float = 7 * 24 * 3600.0


@dataclass
class UserOnboardingResult:
    user_id: str
    #: False when the account already existed (the person was only added to the tenant).
    account_created: bool
    #: False when the person was already a member (nothing changed in the tenant).
    membership_created: bool
    #: False when the person's first-run set-up in this tenant existed already.
    first_run_created: bool = False
