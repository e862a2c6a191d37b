"""A TEST-ONLY stand-in for ``user_onboarding`` (registered under that name on
``<prefix>-workflow``): the import's child workflow, held to its contract
(``workflows/onboarding/contracts.py``) while the real one is built by another change. It answers
a user id derived from the address, and refuses an address whose local part starts with
``refuse`` as the real one refuses a person it cannot land."""

from __future__ import annotations

import uuid

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.onboarding.contracts import (
        OnboardingWorkflow,
        UserOnboardingInput,
        UserOnboardingResult,
    )


def stand_in_user_id(email: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{email}"))


@workflow.defn(name=OnboardingWorkflow.USER_ONBOARDING)
class StandInUserOnboardingWorkflow:
    @workflow.run
    async def run(self, input: UserOnboardingInput) -> UserOnboardingResult:
        if input.email.startswith("refuse"):
            raise ApplicationError(
                "this person cannot join the tenant", type="OnboardingRefused", non_retryable=True
            )
        return UserOnboardingResult(
            user_id=stand_in_user_id(input.email), account_created=True, membership_created=True
        )
