"""``user_first_run`` (queue ``<prefix>-user``): the user service's first-run set-up of a new
member, run as the child of the cross-service ``user_onboarding`` (workflows/onboarding/).

1. ``user.prepare_first_run``: in one transaction, the profile created (or its missing names,
   locale and time zone completed), default preferences per the published schema (the user's
   and the tenant's, where none exist), the profile-completion checklist stored, and the member's
   entry in the tenant's directory copy;
2. ``user.send_welcome_mail``: the welcome in the person's locale, once per member and tenant.

A failed mail undoes step 1 (``user.undo_first_run``: only what it created) and fails the run,
so the parent compensates its own steps. A member whose set-up exists already is a no-op.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.user.contracts import UserError
    from workflows.user.first_run_contracts import (
        PREPARE_FIRST_RUN,
        SEND_WELCOME_MAIL,
        UNDO_FIRST_RUN,
        USER_FIRST_RUN,
        PrepareFirstRunInput,
        SendWelcomeMailInput,
        UndoFirstRunInput,
        UserFirstRunInput,
        UserFirstRunResult,
    )

UNDO_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=30,
)


def failure(error: BaseException, label: str, default: str) -> ApplicationError:
    """The step's business error, non-retryable, its type kept (or ``default``), whatever
    wrapped it on the way (an activity, a child workflow)."""
    cause: BaseException = error
    # ActivityError / ChildWorkflowError wrap the ApplicationError that says what happened.
    while not isinstance(cause, ApplicationError) and cause.__cause__ is not None:
        cause = cause.__cause__
    kind = cause.type if isinstance(cause, ApplicationError) and cause.type else None
    message = cause.message if isinstance(cause, ApplicationError) else str(error)
    return ApplicationError(f"{label}: {message}", type=kind or default, non_retryable=True)


@workflow.defn(name=USER_FIRST_RUN)
class UserFirstRunWorkflow:
    @workflow.init
    def __init__(self, input: UserFirstRunInput) -> None:
        self._progress = ProgressTracker(total=2)

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.run
    async def run(self, input: UserFirstRunInput) -> UserFirstRunResult:
        info = workflow.info()
        key = f"{info.workflow_id}:{info.run_id}:prepare"
        self._progress.advance(0, "setting up the profile")
        try:
            prepared = await PREPARE_FIRST_RUN.execute(
                PrepareFirstRunInput(
                    tenant_id=input.tenant_id,
                    user_id=input.user_id,
                    role=input.role,
                    email=input.email,
                    display_name=input.display_name,
                    given_name=input.given_name,
                    family_name=input.family_name,
                    locale=input.locale,
                    time_zone=input.time_zone,
                    needs_password=input.needs_password,
                    idempotency_key=key,
                )
            )
        except ActivityError as error:
            self._progress.set_state(ProgressState.failed, "the set-up was refused")
            raise failure(error, "first-run set-up refused", UserError.INVALID_INPUT) from error
        result = UserFirstRunResult(
            created=prepared.created,
            profile_created=prepared.profile_created,
            checklist=prepared.checklist,
        )
        if not prepared.created or not input.send_welcome:
            self._progress.advance(2, "set up", ProgressState.completed)
            return result

        self._progress.advance(1, "sending the welcome mail")
        try:
            mailed = await SEND_WELCOME_MAIL.execute(
                SendWelcomeMailInput(
                    tenant_id=input.tenant_id,
                    user_id=input.user_id,
                    tenant_name=input.tenant_name,
                    needs_password=input.needs_password,
                    idempotency_key=f"{info.workflow_id}:{info.run_id}:welcome",
                )
            )
        except ActivityError as error:
            self._progress.set_state(ProgressState.compensating, "undoing the set-up")
            try:
                await UNDO_FIRST_RUN.execute(
                    UndoFirstRunInput(input.tenant_id, input.user_id, prepared_key=key),
                    retry_policy=UNDO_RETRY,
                )
            except ActivityError:
                workflow.logger.exception("first-run compensation failed")
            self._progress.set_state(ProgressState.failed, "the set-up was undone")
            raise failure(error, "welcome mail failed", UserError.INVALID_INPUT) from error
        result.welcome_sent = mailed.sent
        self._progress.advance(2, "set up", ProgressState.completed)
        return result
