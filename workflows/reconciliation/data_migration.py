"""``data_migration`` (queue ``<prefix>-workflow``): every copy one service keeps of another's
membership data checked against its owner, batch by batch, within one tenant
(docs/workflows.md, "Data reconciliation").

Per copy and batch: the owner (tenant service) reads up to ``batch_size`` memberships after the
cursor; the copy holder compares its rows over the same key range and answers the drifting ids;
in ``repair`` mode the owner is asked once more about the drifting members only, and each is
written again from that answer through the activity that keeps that copy today (a member the
owner no longer has is removed), so a change committed since the batch was read is not undone. Each batch is one completed step
in the history, so a killed worker resumes after the last committed batch; the run continues as
new every ``batches_per_run`` batches carrying only the cursor and the counters.

The storage quota copy (``quotas``, patch ``data-migration-quotas``) is one row per tenant: the
tenant service reads the plan's quota, the file service compares its policy row, a repair reads
the owner once more and writes through ``file.put_storage_policy`` (as of ``workflow.now()``, so
a newer plan change is never undone) or, for a tenant that is gone, ``file.remove_storage_policy``.
Runs started before the patch check the membership copies only.

The profile name copies (``profile_names``, patch ``data-migration-profile-names``) go over the
same member batches: the user service answers the members' profiles (the owner), then each holder
compares its copy (``auth.reconcile_profile_claims``, ``tenant.reconcile_member_profiles``,
``user.reconcile_directory_profiles``); a repair reads the profiles once more and writes each
drifting copy through the version-guarded activity ``user_profile_sync`` uses, so a copy holding
a newer version than the one read is never overwritten. Runs started before the patch skip it.

The all-tenants scope (``all_tenants``, patch ``data-migration-all-tenants``; the nightly
Schedule's): the tenant service answers the tenant ids a page at a time
(``tenant.reconcile_list_tenants``, platform-scoped and audited there), and each tenant is
checked by a child ``data_migration`` of its own (``data-migration-<tenant>-all-<random>``,
``PARALLEL_TENANTS`` at a time), whose reports
add up into this run's; a tenant whose run fails is named in ``failed_tenants`` and the others go
on. The run continues as new every ``batches_per_run`` pages (or when Temporal suggests it),
carrying the cursor and the sums.

Started under the platform's ``system`` context (the workflow service's route checks the
operator); the reads refuse any other context.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from workflows.auth.principal_contracts import SYNC_PRINCIPAL_CLAIMS, SyncPrincipalClaimsInput
    from workflows.auth.profile_copies_contracts import SYNC_PROFILE_CLAIMS
    from workflows.common.contracts import ActivityContract
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState
    from workflows.file.quota_contracts import (
        PUT_STORAGE_POLICY,
        REMOVE_STORAGE_POLICY,
        PutStoragePolicyInput,
        RemoveStoragePolicyInput,
    )
    from workflows.reconciliation.contracts import (
        ALL_TENANTS_PATCH,
        COMPARE_CLAIMS,
        COMPARE_DIRECTORY,
        COMPARE_DIRECTORY_PROFILES,
        COMPARE_MEMBER_PROFILES,
        COMPARE_PROFILE_CLAIMS,
        COMPARE_QUOTA,
        DATA_MIGRATION,
        LEGACY_COPIES,
        LIST_TENANTS,
        MAX_BATCH,
        PROFILE_NAMES_PATCH,
        PROFILE_RESYNC_PATCH,
        QUOTAS_PATCH,
        READ_MEMBERS,
        READ_PROFILES,
        READ_QUOTA,
        RESYNC_PROFILES,
        SAMPLE_SIZE,
        CompareInput,
        CompareOutput,
        CompareProfilesInput,
        CompareQuotaInput,
        Copy,
        ListTenantsInput,
        MemberDigest,
        Mode,
        ReadMembersInput,
        ReadProfilesInput,
        ReadQuotaInput,
        ResyncProfilesInput,
    )
    from workflows.tenant.profile_copies_contracts import SYNC_MEMBER_PROFILES
    from workflows.user.directory_contracts import (
        SYNC_DIRECTORY,
        DirectoryEntry,
        SyncDirectoryInput,
    )
    from workflows.user.profile_sync_contracts import (
        SYNC_DIRECTORY_PROFILE,
        ProfileCopyInput,
        ProfileCopyOutput,
    )

RECONCILIATION_QUERY = "reconciliation_progress"
#: Tenants checked at once by an all-tenants run (each a child run).
PARALLEL_TENANTS = 8


@dataclass
class CopyReport:
    copy: str
    checked: int = 0
    missing: int = 0
    extra: int = 0
    stale: int = 0
    repaired: int = 0
    #: Owner rows counted with the first batch (None until then).
    total: int | None = None
    done: bool = False
    #: Up to ``SAMPLE_SIZE`` drifting user ids (ids only, no personal data).
    sample: list[str] = field(default_factory=list)


@dataclass
class FleetProgress:
    """What an all-tenants run has done so far (carried across continue-as-new)."""

    tenants_checked: int = 0
    #: Tenants whose run found drift, and tenants whose run failed (ids, at most ``SAMPLE_SIZE``
    #: each; the counts are exact).
    drifting_tenants: list[str] = field(default_factory=list)
    drifting: int = 0
    failed_tenants: list[str] = field(default_factory=list)
    failed: int = 0


@dataclass
class DataMigrationInput:
    #: The tenant, or "" with ``all_tenants``.
    tenant_id: str
    mode: str = Mode.DRY_RUN.value
    #: Copy names (``Copy``); empty: all of them.
    copies: list[str] = field(default_factory=list)
    batch_size: int = 100
    batches_per_run: int = 50
    #: Who asked (an operator's user id, or ``schedule``): for the audit trail only.
    requested_by: str = ""
    #: Carried across continue-as-new: where the run is and what it counted so far.
    cursor: str = ""
    reports: list[CopyReport] = field(default_factory=list)
    #: Every tenant, each by a child run (the cursor is then a tenant id).
    all_tenants: bool = False
    fleet: FleetProgress | None = None


@dataclass
class DataMigrationResult:
    tenant_id: str
    mode: str
    reports: list[CopyReport]
    #: An all-tenants run's tenants (None for one tenant's run).
    fleet: FleetProgress | None = None

    @property
    def drift(self) -> int:
        return sum(r.missing + r.extra + r.stale for r in self.reports)


def data_migration_workflow_id(tenant_id: str, key: str) -> str:
    return f"data-migration-{tenant_id}-{key}"


def copies_of(input: DataMigrationInput) -> list[str]:
    return list(input.copies) or [c.value for c in Copy]


COMPARES = {Copy.CLAIMS.value: COMPARE_CLAIMS, Copy.DIRECTORY.value: COMPARE_DIRECTORY}
#: The holders of the ``profile_names`` copy: how each compares, and the version-guarded write
#: ``user_profile_sync`` keeps it with (a repair writes through the same).
PROFILE_HOLDERS: tuple[
    tuple[
        str,
        ActivityContract[CompareProfilesInput, CompareOutput],
        ActivityContract[ProfileCopyInput, ProfileCopyOutput],
    ],
    ...,
] = (
    ("auth", COMPARE_PROFILE_CLAIMS, SYNC_PROFILE_CLAIMS),
    ("tenant", COMPARE_MEMBER_PROFILES, SYNC_MEMBER_PROFILES),
    ("directory", COMPARE_DIRECTORY_PROFILES, SYNC_DIRECTORY_PROFILE),
)


@workflow.defn(name=DATA_MIGRATION)
class DataMigrationWorkflow:
    @workflow.init
    def __init__(self, input: DataMigrationInput) -> None:
        self._input = input
        known = {r.copy: r for r in input.reports}
        self._reports = [known.get(name) or CopyReport(copy=name) for name in copies_of(input)]
        self._label = "starting"
        self._state = ProgressState.running

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        done = sum(1 for r in self._reports if r.done)
        total = len(self._reports)
        percent = 100 if self._state == ProgressState.completed else int(100 * done / total)
        return Progress(done, total, self._label, percent, self._state.value)

    @workflow.query(name=RECONCILIATION_QUERY)
    def reconciliation_progress(self) -> list[CopyReport]:
        return self._reports

    @workflow.run
    async def run(self, input: DataMigrationInput) -> DataMigrationResult:
        if input.all_tenants and workflow.patched(ALL_TENANTS_PATCH):
            return await self._all_tenants(input)
        cursor, batches = input.cursor, 0
        if not workflow.patched(QUOTAS_PATCH):
            self._reports = [r for r in self._reports if r.copy in LEGACY_COPIES]
        if not workflow.patched(PROFILE_NAMES_PATCH):
            self._reports = [r for r in self._reports if r.copy != Copy.PROFILE_NAMES.value]
        for report in self._reports:
            if report.done:
                continue
            self._label = report.copy
            if report.copy == Copy.QUOTAS.value:
                if batches >= input.batches_per_run:
                    workflow.continue_as_new(replace(input, cursor="", reports=self._reports))
                await self._quotas(report)
                batches += 1
                report.done = True
                continue
            while True:
                if batches >= input.batches_per_run:
                    workflow.continue_as_new(replace(input, cursor=cursor, reports=self._reports))
                batch = await READ_MEMBERS.execute(
                    ReadMembersInput(input.tenant_id, after=cursor, limit=input.batch_size)
                )
                if report.total is None:
                    report.total = batch.total
                last = len(batch.members) < input.batch_size
                upto = "" if last else batch.members[-1].user_id
                if report.copy == Copy.PROFILE_NAMES.value:
                    await self._profile_names(report, batch.members)
                else:
                    drift = await COMPARES[report.copy].execute(
                        CompareInput(input.tenant_id, batch.members, after=cursor, upto=upto)
                    )
                    self._count(report, drift)
                    if input.mode == Mode.REPAIR.value:
                        report.repaired += await self._repair(report.copy, drift)
                batches += 1
                if last:
                    break
                cursor = upto
            report.done = True
            cursor = ""
        self._state, self._label = ProgressState.completed, "completed"
        return DataMigrationResult(input.tenant_id, input.mode, self._reports)

    async def _all_tenants(self, input: DataMigrationInput) -> DataMigrationResult:
        """Every tenant's ids from their owner, a page at a time; each tenant a child run."""
        fleet = input.fleet or FleetProgress()
        cursor, pages = input.cursor, 0
        while True:
            if pages >= input.batches_per_run or workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    replace(input, cursor=cursor, reports=self._reports, fleet=fleet)
                )
            self._label = "tenants"
            page = await LIST_TENANTS.execute(
                ListTenantsInput(
                    after=cursor, limit=input.batch_size, requested_by=input.requested_by
                )
            )
            pages += 1
            for start in range(0, len(page.tenant_ids), PARALLEL_TENANTS):
                some = page.tenant_ids[start : start + PARALLEL_TENANTS]
                outcomes = await asyncio.gather(
                    *(self._one_tenant(input, t) for t in some), return_exceptions=True
                )
                for tenant_id, outcome in zip(some, outcomes, strict=True):
                    self._add(fleet, tenant_id, outcome)
            if len(page.tenant_ids) < input.batch_size:
                break
            cursor = page.tenant_ids[-1]
        for report in self._reports:
            report.done = True
        self._state, self._label = ProgressState.completed, "completed"
        return DataMigrationResult("", input.mode, self._reports, fleet=fleet)

    async def _one_tenant(self, input: DataMigrationInput, tenant_id: str) -> DataMigrationResult:
        return await workflow.execute_child_workflow(
            DataMigrationWorkflow.run,
            DataMigrationInput(
                tenant_id=tenant_id,
                mode=input.mode,
                copies=list(input.copies),
                batch_size=input.batch_size,
                batches_per_run=input.batches_per_run,
                requested_by=input.requested_by,
            ),
            # Not derived from this run's id (a replay runs under another): a seeded uuid.
            id=data_migration_workflow_id(tenant_id, f"all-{workflow.uuid4().hex[:12]}"),
        )

    def _add(
        self, fleet: FleetProgress, tenant_id: str, outcome: DataMigrationResult | BaseException
    ) -> None:
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, ChildWorkflowError):
                raise outcome
            fleet.failed += 1
            if len(fleet.failed_tenants) < SAMPLE_SIZE:
                fleet.failed_tenants.append(tenant_id)
            return
        fleet.tenants_checked += 1
        if outcome.drift:
            fleet.drifting += 1
            if len(fleet.drifting_tenants) < SAMPLE_SIZE:
                fleet.drifting_tenants.append(tenant_id)
        sums = {r.copy: r for r in self._reports}
        for theirs in outcome.reports:
            mine = sums.get(theirs.copy)
            if mine is None:
                continue
            mine.checked += theirs.checked
            mine.missing += theirs.missing
            mine.extra += theirs.extra
            mine.stale += theirs.stale
            mine.repaired += theirs.repaired
            mine.total = (mine.total or 0) + (theirs.total or 0)
            for user_id in theirs.sample:
                if len(mine.sample) < SAMPLE_SIZE and user_id not in mine.sample:
                    mine.sample.append(user_id)

    @staticmethod
    def _count(report: CopyReport, drift: CompareOutput) -> None:
        report.checked += drift.checked
        report.missing += len(drift.missing)
        report.extra += len(drift.extra)
        report.stale += len(drift.stale)
        for user_id in drift.missing + drift.extra + drift.stale:
            if len(report.sample) < SAMPLE_SIZE and user_id not in report.sample:
                report.sample.append(user_id)

    async def _quotas(self, report: CopyReport) -> None:
        tenant_id = self._input.tenant_id
        owner = await READ_QUOTA.execute(ReadQuotaInput(tenant_id))
        report.total = 0 if owner.quota_bytes is None else 1
        drift = await COMPARE_QUOTA.execute(CompareQuotaInput(tenant_id, owner.quota_bytes))
        self._count(report, drift)
        if self._input.mode != Mode.REPAIR.value or not (
            drift.missing or drift.extra or drift.stale
        ):
            return
        info = workflow.info()
        key = f"{info.workflow_id}:{info.run_id}:{Copy.QUOTAS.value}"
        now = await READ_QUOTA.execute(ReadQuotaInput(tenant_id))  # the owner once more
        if now.quota_bytes is None:
            removed = await REMOVE_STORAGE_POLICY.execute(RemoveStoragePolicyInput(tenant_id, key))
            report.repaired += int(removed.removed)
            return
        written = await PUT_STORAGE_POLICY.execute(
            PutStoragePolicyInput(
                tenant_id=tenant_id,
                quota_bytes=now.quota_bytes,
                allowed_types=None,  # the plans carry no type limits (workflows/tenant/storage_policy.py)
                version=workflow.now().isoformat(),
                idempotency_key=key,
            )
        )
        report.repaired += int(written.applied)

    async def _profile_names(self, report: CopyReport, members: list[MemberDigest]) -> None:
        """One batch of members: their profiles (the owner) against each holder's copy; counts
        add up over the holders (a member stale in two copies counts twice)."""
        tenant_id = self._input.tenant_id
        owner = await READ_PROFILES.execute(
            ReadProfilesInput(tenant_id, [m.user_id for m in members])
        )
        if not owner.profiles:
            return
        drifting: dict[str, list[str]] = {}
        resync: set[str] = set()
        for holder, compare, _ in PROFILE_HOLDERS:
            drift = await compare.execute(CompareProfilesInput(tenant_id, owner.profiles))
            self._count(report, drift)
            if drift.missing or drift.stale:
                drifting[holder] = drift.missing + drift.stale
            resync.update(drift.same_version)
        if self._input.mode == Mode.REPAIR.value and drifting:
            report.repaired += await self._repair_profiles(drifting, resync)

    async def _repair_profiles(self, drifting: dict[str, list[str]], resync: set[str]) -> int:
        """Each drifting copy written again from the profiles read once more, through the
        version-guarded write of ``user_profile_sync`` (a newer copy changes nothing); answers
        the copies that changed. A copy that drifted at the profile's own version cannot be
        fixed so: that profile is re-synced (its version bumped by the user service, patch
        ``data-migration-profile-resync``) and then written to every holder, whose copies all
        fall behind the bumped version."""
        user_ids = sorted({u for ids in drifting.values() for u in ids})
        tenant_id = self._input.tenant_id
        bumped: set[str] = set()
        if resync and workflow.patched(PROFILE_RESYNC_PATCH):
            rest = [u for u in user_ids if u not in resync]
            resynced = await RESYNC_PROFILES.execute(ResyncProfilesInput(tenant_id, sorted(resync)))
            profiles = list(resynced.profiles)
            bumped = {p.user_id for p in profiles}
            if rest:
                profiles += (
                    await READ_PROFILES.execute(ReadProfilesInput(tenant_id, rest))
                ).profiles
        else:
            profiles = (
                await READ_PROFILES.execute(ReadProfilesInput(tenant_id, user_ids))
            ).profiles
        info = workflow.info()
        fixed = 0
        for profile in profiles:
            if not profile.display_name:
                continue  # nothing the copies' write accepts (user_profile_sync neither)
            for holder, _, sync in PROFILE_HOLDERS:
                drifted = profile.user_id in drifting.get(holder, ())
                if not drifted and profile.user_id not in bumped:
                    continue
                key = f"{info.workflow_id}:{info.run_id}:{Copy.PROFILE_NAMES.value}:{holder}"
                written = await sync.execute(
                    ProfileCopyInput(
                        user_id=profile.user_id,
                        version=profile.version,
                        display_name=profile.display_name,
                        email=profile.email,
                        idempotency_key=f"{key}:{profile.user_id}:{profile.version}",
                    )
                )
                fixed += int(drifted and written.changed > 0)
        return fixed

    async def _repair(self, copy: str, drift: CompareOutput) -> int:
        """Write the drifting members again from the owner's truth read once more just before
        (not from the batch: a member added or changed since then must not lose to it)."""
        drifting = drift.missing + drift.extra + drift.stale
        for start in range(0, len(drifting), MAX_BATCH):
            await self._repair_some(copy, drifting[start : start + MAX_BATCH])
        return len(drifting)

    async def _repair_some(self, copy: str, drifting: list[str]) -> None:
        tenant_id = self._input.tenant_id
        now = await READ_MEMBERS.execute(
            ReadMembersInput(tenant_id, limit=len(drifting), user_ids=drifting)
        )
        owner = {m.user_id: m for m in now.members}
        gone = [u for u in drifting if u not in owner]
        if copy == Copy.CLAIMS.value:
            for member in now.members:
                await SYNC_PRINCIPAL_CLAIMS.execute(
                    SyncPrincipalClaimsInput(
                        member.user_id, tenant_id, [member.role], permissions=member.permissions
                    )
                )
            for user_id in gone:
                # No roles: the claim goes, and the sessions it opened into the tenant with it.
                await SYNC_PRINCIPAL_CLAIMS.execute(
                    SyncPrincipalClaimsInput(user_id, tenant_id, [], revoke_tenant_sessions=True)
                )
        else:
            entries = [DirectoryEntry(m.user_id, m.role, m.status) for m in now.members]
            entries += [DirectoryEntry(user_id, None) for user_id in gone]
            info = workflow.info()
            await SYNC_DIRECTORY.execute(
                SyncDirectoryInput(
                    tenant_id,
                    entries,
                    idempotency_key=f"{info.workflow_id}:{info.run_id}:{copy}:{drifting[0]}",
                )
            )
