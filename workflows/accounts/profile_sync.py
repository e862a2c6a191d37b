"""``user_profile_sync``: a profile change reaches every copy other services keep (docs/users.md,
"Profile sync").

One long-lived run per user (id ``user-profile-sync-<user id>``, queue ``<prefix>-user``). The
profile routes signal it with start (``profile_changed``) after their transaction committed,
carrying the row's version (``storage.users.repository.profile_version``), which strictly
increases per user. The run keeps only the latest change: an older or repeated delivery is
dropped, so a later change never loses to an earlier one.

Each copy is a lane of its own, so a failing copy never holds the others back:

- ``auth.sync_profile_claims``: the display name in access tokens;
- ``tenant.sync_member_profiles``: the name and address on the memberships (member lists);
- ``user.sync_directory_profile``: the directory entries in every tenant;
- ``file.sync_owner_name``: owner names on files (a no-op while files keep none).

A lane copies the latest change; a copy that fails is retried with back-off, and a newer change
arriving meanwhile cancels that attempt and is copied instead. The copies are version-guarded
writes, so a retried activity, or one that ran after a newer one, changes nothing.

The run continues as new after ``max_changes`` changes (carrying the latest change and what each
copy holds), and ends after ``idle_seconds`` without a change once every copy holds the latest;
the next change starts it again. It runs under the platform's security context: each change was
authorised by the route that committed it, and the run only copies committed rows.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.auth.profile_copies_contracts import SYNC_PROFILE_CLAIMS
    from workflows.common.contracts import ActivityContract
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState
    from workflows.file.owner_contracts import SYNC_OWNER_NAME
    from workflows.tenant.profile_copies_contracts import SYNC_MEMBER_PROFILES
    from workflows.user.contracts import UserWorkflow
    from workflows.user.profile_sync_contracts import (
        SYNC_DIRECTORY_PROFILE,
        ProfileCopyInput,
        ProfileCopyOutput,
    )

PROFILE_CHANGED_SIGNAL = "profile_changed"
SYNC_STATE_QUERY = "sync_state"

#: The copies, by the name progress and results use (stable: histories carry them).
COPIES: tuple[tuple[str, ActivityContract[ProfileCopyInput, ProfileCopyOutput]], ...] = (
    ("auth", SYNC_PROFILE_CLAIMS),
    ("tenant", SYNC_MEMBER_PROFILES),
    ("directory", SYNC_DIRECTORY_PROFILE),
    ("file", SYNC_OWNER_NAME),
)
#: A copy's service down: retried without end, with back-off; a newer change cancels it.
COPY_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=0,
)


@dataclass
class ProfileChange:
    """The ``profile_changed`` signal: the profile row as one committed change left it."""

    user_id: str
    version: int
    display_name: str
    email: str


@dataclass
class ProfileSyncInput:
    user_id: str
    #: Carried across continue-as-new: the latest change seen, and the version each copy holds.
    latest: ProfileChange | None = None
    applied: dict[str, int] = field(default_factory=dict)
    #: A copy whose last attempt failed for good (non-retryable): its message.
    failed: dict[str, str] = field(default_factory=dict)
    #: Changes accepted since the first run of the chain.
    changes: int = 0
    max_changes: int = 100
    idle_seconds: float = 3600.0


@dataclass
class ProfileSyncState:
    """The ``sync_state`` query: the latest version seen and the one each copy holds."""

    user_id: str
    latest_version: int
    applied: dict[str, int]
    failed: dict[str, str]
    changes: int


@dataclass
class ProfileSyncResult:
    user_id: str
    version: int
    applied: dict[str, int]
    changes: int


def user_profile_sync_workflow_id(user_id: str) -> str:
    return f"user-profile-sync-{user_id}"


@workflow.defn(name=UserWorkflow.USER_PROFILE_SYNC)
class UserProfileSyncWorkflow:
    @workflow.init
    def __init__(self, input: ProfileSyncInput) -> None:
        self._input = input
        self._latest = input.latest
        self._applied = dict(input.applied)
        self._failed = dict(input.failed)
        self._changes = input.changes
        self._run_changes = 0
        self._closing = False
        self._done = False

    # --- messages -----------------------------------------------------------------------

    @workflow.signal(name=PROFILE_CHANGED_SIGNAL)
    def profile_changed(self, change: ProfileChange) -> None:
        if change.user_id != self._input.user_id:
            workflow.logger.warning("profile change for another user dropped")
            return
        if self._latest is not None and change.version <= self._latest.version:
            return  # older or repeated: a later change is (being) copied already
        self._latest = change
        self._changes += 1
        self._run_changes += 1

    @workflow.query(name=SYNC_STATE_QUERY)
    def sync_state(self) -> ProfileSyncState:
        return ProfileSyncState(
            user_id=self._input.user_id,
            latest_version=self._version,
            applied=dict(self._applied),
            failed=dict(self._failed),
            changes=self._changes,
        )

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        total = len(COPIES)
        current = sum(1 for name, _ in COPIES if not self._behind(name))
        if self._done:
            state = ProgressState.completed
        elif current == total:
            state = ProgressState.waiting
        else:
            state = ProgressState.running
        label = f"{current} of {total} copies hold version {self._version}"
        return Progress(current, total, label, int(100 * current / total), state.value)

    # --- the run ------------------------------------------------------------------------

    @property
    def _version(self) -> int:
        return self._latest.version if self._latest is not None else 0

    def _behind(self, name: str) -> bool:
        return self._applied.get(name, 0) < self._version

    def _caught_up(self) -> bool:
        return not any(self._behind(name) for name, _ in COPIES)

    def _roll_over(self) -> bool:
        return self._caught_up() and (
            self._run_changes >= self._input.max_changes
            or workflow.info().is_continue_as_new_suggested()
        )

    @workflow.run
    async def run(self, input: ProfileSyncInput) -> ProfileSyncResult:
        info = workflow.info()
        self._key = f"{info.workflow_id}:{info.run_id}"
        lanes = [asyncio.ensure_future(self._lane(name, contract)) for name, contract in COPIES]
        idle = timedelta(seconds=input.idle_seconds)
        while not self._roll_over():
            seen = self._changes
            try:
                await workflow.wait_condition(
                    lambda seen=seen: self._changes != seen or self._roll_over(),  # type: ignore[misc]
                    timeout=idle,
                )
            except TimeoutError:
                if self._caught_up():
                    break  # idle with every copy at the latest change: done until the next
        self._closing = True
        await asyncio.gather(*lanes)
        if self._run_changes >= input.max_changes or not self._caught_up():
            # A change arrived as the lanes closed, or the run is long: a fresh run goes on.
            workflow.continue_as_new(
                ProfileSyncInput(
                    user_id=input.user_id,
                    latest=self._latest,
                    applied=self._applied,
                    failed=self._failed,
                    changes=self._changes,
                    max_changes=input.max_changes,
                    idle_seconds=input.idle_seconds,
                )
            )
        self._done = True
        return ProfileSyncResult(input.user_id, self._version, dict(self._applied), self._changes)

    async def _lane(
        self, name: str, contract: ActivityContract[ProfileCopyInput, ProfileCopyOutput]
    ) -> None:
        """Copy the latest change into one copy until the run closes with this copy current."""
        while True:
            await workflow.wait_condition(lambda: self._behind(name) or self._closing)
            change = self._latest
            if change is None or not self._behind(name):
                return
            copy = asyncio.ensure_future(
                contract.execute(
                    ProfileCopyInput(
                        user_id=change.user_id,
                        version=change.version,
                        display_name=change.display_name,
                        email=change.email,
                        idempotency_key=f"{self._key}:{name}:{change.version}",
                    ),
                    retry_policy=COPY_RETRY,
                )
            )
            newer = asyncio.ensure_future(
                workflow.wait_condition(lambda v=change.version: self._version > v)  # type: ignore[misc]
            )
            await workflow.wait([copy, newer], return_when=asyncio.FIRST_COMPLETED)
            if copy.done():
                newer.cancel()
                self._settle(name, change.version, copy)
            else:
                # A newer change: this attempt (perhaps waiting out a back-off) gives way to it.
                copy.cancel()
                try:
                    await copy
                except (ActivityError, asyncio.CancelledError):
                    pass

    def _settle(self, name: str, version: int, copy: asyncio.Future[Any]) -> None:
        try:
            copy.result()
            self._failed.pop(name, None)
        except ActivityError as error:
            # Refused for good (non-retryable): recorded, and the next change tries again.
            cause = error.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(error)
            self._failed[name] = message[:300]
            workflow.logger.warning("profile copy %s refused version %s", name, version)
        self._applied[name] = max(self._applied.get(name, 0), version)
