"""The one start of ``user_onboarding`` for a service (SCIM, the invitation path, tests): the
input checked against the rules every owner applies (``OnboardingInputError`` names the field,
before anything starts; the owning services' activities check again, so a run started by other
means, e.g. as a bulk import's child, gets the same refusals there), the id derived from the
idempotency key, and a retried start answered by the first run."""

from __future__ import annotations

import re
import uuid
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows.auth.contracts import InvalidEmailError, address_digest, normalize_email
from workflows.onboarding.contracts import Source, UserOnboardingInput, UserOnboardingResult
from workflows.onboarding.user_onboarding import (
    UserOnboardingWorkflow,
    user_onboarding_workflow_id,
)
from workflows.user import rules as user_rules

#: Workflow ids stay short and free of personal data: the key is the caller's opaque token.
_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")
MAX_ROLE = 50


class OnboardingInputError(ValueError):
    """Input a run would refuse; the message names the field."""


def _uuid(raw: str, field: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except (ValueError, AttributeError, TypeError):
        raise OnboardingInputError(f"{field}: not a valid id") from None


def checked_input(input: UserOnboardingInput) -> UserOnboardingInput:
    """``input`` with its address normalised and its texts cleaned, or ``OnboardingInputError``
    naming the first bad field."""
    try:
        email = normalize_email(input.email)
    except (InvalidEmailError, TypeError, AttributeError) as error:
        raise OnboardingInputError(f"email: {error}") from None
    if not isinstance(input.role, str) or not 1 <= len(input.role) <= MAX_ROLE:
        raise OnboardingInputError(f"role: 1-{MAX_ROLE} characters")
    try:
        Source(input.source)
    except ValueError:
        raise OnboardingInputError("source: unknown") from None
    tenant_id = _uuid(input.tenant_id, "tenant_id")
    # No key: one onboarding per person and tenant (the digest hides the address).
    key = input.idempotency_key or f"{tenant_id}-{address_digest(email)}"
    if not isinstance(key, str) or not _KEY.match(key):
        raise OnboardingInputError("idempotency_key: 1-200 of A-Z a-z 0-9 . _ : -")
    if not input.password_link_ttl_seconds > 0:
        raise OnboardingInputError("password_link_ttl_seconds: must be positive")
    cleaners = {
        "display_name": user_rules.clean_display_name,
        "given_name": user_rules.clean_given_name,
        "family_name": user_rules.clean_family_name,
        "locale": user_rules.clean_locale,
        "time_zone": user_rules.clean_time_zone,
    }
    cleaned: dict[str, str | None] = {}
    for field, clean in cleaners.items():
        value = getattr(input, field)
        if value is None:
            cleaned[field] = None
            continue
        try:
            cleaned[field] = clean(value)
        except (user_rules.RuleViolation, TypeError, AttributeError) as error:
            raise OnboardingInputError(f"{field}: {error}") from None
    return UserOnboardingInput(
        tenant_id=tenant_id,
        email=email,
        role=input.role,
        actor_id=_uuid(input.actor_id, "actor_id"),
        send_welcome=bool(input.send_welcome),
        source=input.source,
        external_id=input.external_id,
        idempotency_key=key,
        password_link_ttl_seconds=input.password_link_ttl_seconds,
        **cleaned,
    )


async def start_user_onboarding(
    client: Client, input: UserOnboardingInput, *, task_queue: str
) -> WorkflowHandle[Any, UserOnboardingResult]:
    """The run for ``input.idempotency_key``: a new one, the one running, or the completed one
    (whose result is the answer again); a failed run is started afresh. Bad input raises
    ``OnboardingInputError`` (above) before anything starts; the
    caller's security context travels with the start (``acting_as``)."""
    checked = checked_input(input)
    workflow_id = user_onboarding_workflow_id(checked.idempotency_key)
    try:
        return await client.start_workflow(
            UserOnboardingWorkflow.run,
            checked,
            id=workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except WorkflowAlreadyStartedError:
        # Completed under this key already: the same result.
        return client.get_workflow_handle(workflow_id, result_type=UserOnboardingResult)
