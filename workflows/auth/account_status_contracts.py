"""Contract of the auth step of ``user_deactivation`` (a user service workflow): the account
deactivated (every login refused, every session revoked at once) or reactivated."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.auth.contracts import AUTH
from workflows.common.contracts import ActivityContract


@dataclass
class SetAccountStatusInput:
    user_id: str
    #: True: logins refused (``credentials.disabled_at``) and every session revoked.
    disabled: bool
    idempotency_key: str


@dataclass
class SetAccountStatusOutput:
    #: False when the account was so already (a retried step, or a repeated request).
    changed: bool
    sessions_revoked: int


SET_ACCOUNT_STATUS = ActivityContract(
    "auth.set_account_status", AUTH, SetAccountStatusInput, SetAccountStatusOutput
)
