"""Activity contracts of the tenant steps of ``user_onboarding`` (workflows/onboarding/): the
actor's right to onboard into the tenant checked before anything is written, the membership
added (once per key, its outcome recorded with it), and its compensation."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.common.contracts import ActivityContract
from workflows.tenant.contracts import TENANT


@dataclass
class CheckOnboardingInput:
    tenant_id: str
    #: Who asks (checked against the run's security context and the tenant's rows).
    actor_id: str
    role: str
    #: ``invitation``: the actor is the person, already a member through the accepted
    #: invitation; any other source needs ``members.manage`` and may grant only what it holds.
    source: str = "admin"


@dataclass
class CheckOnboardingOutput:
    tenant_name: str
    #: The role's effective permissions (for the claims).
    permissions: list[str] = field(default_factory=list)


CHECK_ONBOARDING = ActivityContract(
    "tenant.check_onboarding", TENANT, CheckOnboardingInput, CheckOnboardingOutput
)


@dataclass
class AddOnboardedMemberInput:
    tenant_id: str
    actor_id: str
    user_id: str
    role: str
    source: str = "admin"
    idempotency_key: str = ""


@dataclass
class AddOnboardedMemberOutput:
    #: False when the person was a member already (nothing changed).
    created: bool
    #: The member's role now (an existing member keeps theirs).
    role: str
    permissions: list[str] = field(default_factory=list)


#: Adds the membership unless there is one; re-checks the actor in the same transaction.
ADD_ONBOARDED_MEMBER = ActivityContract(
    "tenant.add_onboarded_member", TENANT, AddOnboardedMemberInput, AddOnboardedMemberOutput
)


@dataclass
class RemoveOnboardedMemberInput:
    tenant_id: str
    user_id: str
    #: The key ``tenant.add_onboarded_member`` ran under: only a membership it created goes.
    added_key: str
    idempotency_key: str = ""


@dataclass
class RemoveOnboardedMemberOutput:
    removed: bool


REMOVE_ONBOARDED_MEMBER = ActivityContract(
    "tenant.remove_onboarded_member",
    TENANT,
    RemoveOnboardedMemberInput,
    RemoveOnboardedMemberOutput,
)
