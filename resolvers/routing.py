"""The routing rule, in one place beside the resolvers (DESIGN.md section 6,
docs/architecture.md *Direct call or workflow*):

- a **query** calls the service that owns the data directly (GET, retried on another instance
  when one cannot be reached: ``gateway/service_clients.py``);
- a **mutation that spans services or steps** (claims in auth and rows in the tenant service, a
  payment to wait for, a mail link, a deadline, a compensation) is a **workflow**, and its
  answer is the ``WorkflowRun``: the gateway starts it itself where it needs nothing of a
  service first (``signUp``), else the owning service's route checks the caller and starts it;
- a mutation that is **one service's own write** (one transaction, or an update of a workflow
  that service drives itself) is a **direct** call to that one service, sent once.

``MUTATION_ROUTES`` classifies every mutation of the schema with its reason;
``tests/gateway/routing/test_routing_rule.py`` fails for a mutation missing here, for a
workflow mutation that does not answer a ``WorkflowRun``, and for a direct one whose resolver
calls another service than the one named, more than one, or Temporal."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.settings import ServiceName
from workflows.compliance.contracts import GDPR_ERASURE, GDPR_EXPORT
from workflows.file.contracts import FileWorkflow
from workflows.reconciliation.contracts import DATA_MIGRATION


@dataclass(frozen=True)
class Direct:
    """One service's own write: the resolver calls ``service`` and nothing else."""

    service: ServiceName
    reason: str


@dataclass(frozen=True)
class Workflow:
    """Spans ``spans``: a run of ``workflow``, started by the gateway (``started_by`` None) or by
    the route of ``started_by``; the mutation answers the ``WorkflowRun``."""

    workflow: str
    spans: frozenset[ServiceName]
    reason: str
    started_by: ServiceName | None = None


Route = Direct | Workflow

_AUTH, _USER, _TENANT = ServiceName.auth, ServiceName.user, ServiceName.tenant
_FILE = ServiceName.file
_WORKFLOW = ServiceName.workflow


def _tenant_run(workflow: str, spans: set[ServiceName], reason: str) -> Workflow:
    return Workflow(workflow, frozenset(spans), reason, started_by=_TENANT)


#: Every mutation of the public schema, by its GraphQL name.
MUTATION_ROUTES: dict[str, Route] = {
    # -- registration, sessions, password reset, MFA (auth) ------------------------------------
    "signUp": Workflow(
        "user_registration",
        frozenset({_AUTH, _USER}),
        "an account in auth and a profile in user, then a wait for the mailed link",
    ),
    "verifyEmail": Direct(_AUTH, "auth spends the link token and updates its own waiting run"),
    "requestPasswordReset": Direct(_AUTH, "auth applies its limits and starts its own reset run"),
    "confirmPasswordReset": Direct(_AUTH, "auth spends the reset token in its own run"),
    "login": Direct(_AUTH, "a session row in auth"),
    "refreshSession": Direct(_AUTH, "a token rotation in auth"),
    "logout": Direct(_AUTH, "ends sessions in auth"),
    "revokeSession": Direct(_AUTH, "ends one session in auth"),
    "startMfaSetup": Direct(_AUTH, "auth starts and drives its own mfa_setup run"),
    "activateMfa": Direct(_AUTH, "an update of auth's own mfa_setup run"),
    "verifyMfa": Direct(_AUTH, "completes a login in auth"),
    "disableMfa": Direct(_AUTH, "one transaction in auth"),
    "regenerateRecoveryCodes": Direct(_AUTH, "one transaction in auth"),
    "switchTenant": Direct(
        _AUTH,
        "the session's tenant is auth's own row, answered with the new token at once (auth "
        "starts the tenant_switching bookkeeping after answering)",
    ),
    # -- tenants -------------------------------------------------------------------------------
    "createTenant": _tenant_run(
        "tenant_provisioning", {_TENANT, _AUTH, _FILE}, "tenant rows, owner claims, storage"
    ),
    "acceptInvitation": _tenant_run(
        "membership_change", {_TENANT, _AUTH}, "a membership row and the member's claims"
    ),
    "changeMemberRole": _tenant_run(
        "membership_change", {_TENANT, _AUTH}, "the role row and the member's claims"
    ),
    "removeMember": _tenant_run(
        "membership_change", {_TENANT, _AUTH}, "the membership and the member's sessions there"
    ),
    "transferOwnership": _tenant_run(
        "membership_change", {_TENANT, _AUTH}, "two members' roles and claims"
    ),
    "upgradeTenant": _tenant_run(
        "tenant_upgrade", {_TENANT, _AUTH}, "a payment to wait for, the plan and quota claims"
    ),
    "suspendTenant": _tenant_run(
        "tenant_suspension", {_TENANT, _AUTH}, "the tenant's state and every member's sessions"
    ),
    "resumeTenant": _tenant_run(
        "tenant_suspension", {_TENANT, _AUTH}, "the tenant's state and the members' claims"
    ),
    "deleteTenant": _tenant_run(
        "tenant_suspension",
        {_TENANT, _AUTH, _FILE, _USER},
        "a grace period, then an export and the erasure of every schema",
    ),
    "inviteMember": Direct(_TENANT, "an invitation row in the tenant service (and its mail)"),
    "declineInvitation": Direct(_TENANT, "marks the invitation row"),
    "revokeInvitation": Direct(_TENANT, "marks the invitation row"),
    # -- profiles, preferences, deactivation (user) --------------------------------------------
    "updateProfile": Direct(_USER, "the caller's profile row (and its directory copies)"),
    "updatePreferences": Direct(_USER, "the caller's preferences row, checked by its schema"),
    "deactivateUser": Workflow(
        "user_deactivation",
        frozenset({_USER, _AUTH, _TENANT, _FILE}),
        "the profile, auth's logins and sessions, the memberships in every tenant, the files",
        started_by=_USER,
    ),
    "reactivateUser": Workflow(
        "user_deactivation",
        frozenset({_USER, _AUTH, _TENANT, _FILE}),
        "the deactivation's steps undone in reverse",
        started_by=_USER,
    ),
    "bulkUserOperation": Workflow(
        "bulk_user_operation",
        frozenset({_USER, _AUTH, _TENANT, _FILE, _WORKFLOW}),
        "many users' changes, each a child run (onboarding, membership change, deactivation)",
        started_by=_USER,
    ),
    # -- files (file) ----------------------------------------------------------------------------
    "createUpload": Direct(
        _FILE, "the file service checks name, size and quota and answers where to send the bytes"
    ),
    "renameFile": Direct(_FILE, "the file's row in the file service"),
    "moveFile": Direct(_FILE, "the file's row in the file service"),
    "deleteFile": Direct(_FILE, "a soft delete of the file's row (the purge is later)"),
    "shareFile": Workflow(
        FileWorkflow.FILE_SHARING,
        frozenset({_FILE, _TENANT}),
        "the grantee checked by the tenant service, the share written and mailed, ended by a "
        "durable expiry timer, with a compensation",
        started_by=_FILE,
    ),
    "revokeShare": Direct(_FILE, "one UPDATE of the share's row, in force at once"),
    "migrateTenantStorage": Workflow(
        FileWorkflow.FILE_MIGRATION,
        frozenset({_FILE}),
        "batches of copies, checksums and row switches that survive a killed worker, with a "
        "compensation",
        started_by=_FILE,
    ),
    # -- run management (workflow) -------------------------------------------------------------
    # The workflow service owns the view of runs: it checks the caller's scope, acts on Temporal
    # and audits the act itself (a retry's new run is started by that service, not by a saga).
    "cancelWorkflowRun": Direct(_WORKFLOW, "a cancel request of one run, audited there"),
    "retryWorkflowRun": Direct(
        _WORKFLOW, "a new run with the old input, started and audited there"
    ),
    "resetWorkflowRun": Direct(_WORKFLOW, "a reset of one run's history, audited there"),
    "batchWorkflowOperation": Direct(
        _WORKFLOW, "the workflow service cancels or retries the matching runs, paced, audited"
    ),
    # -- data reconciliation (workflow) --------------------------------------------------------
    "startDataMigration": Workflow(
        DATA_MIGRATION,
        frozenset({_WORKFLOW, _TENANT, _AUTH, _USER}),
        "the tenant's memberships compared with (and repaired into) auth's and user's copies",
        started_by=_WORKFLOW,
    ),
    # -- GDPR procedures (workflow) ------------------------------------------------------------
    "requestDataExport": Workflow(
        GDPR_EXPORT,
        frozenset({_WORKFLOW, _AUTH, _USER, _TENANT, _FILE}),
        "every service's part of the person's data, one archive, a mailed expiring link",
        started_by=_WORKFLOW,
    ),
    "requestAccountErasure": Workflow(
        GDPR_ERASURE,
        frozenset({_WORKFLOW, _AUTH, _USER, _TENANT, _FILE}),
        "a grace period, then the person erased in every service, a signed receipt",
        started_by=_WORKFLOW,
    ),
    "cancelAccountErasure": Direct(
        _WORKFLOW, "the workflow service signals the erasure run it drives"
    ),
    "decideAccountErasureTenants": Direct(
        _WORKFLOW, "the workflow service updates the erasure run it drives"
    ),
}
