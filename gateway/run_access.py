"""Who may read a workflow run through the gateway: its owner (the signed-in user who started
it, kept in the run's memo) or whoever holds the run's access token, which only the mutation
that started the run hands out. Everyone else is told the run does not exist."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from temporalio.client import WorkflowExecutionDescription

from services.common.dev_secrets import development_secret
from services.common.settings import Settings

OWNER_MEMO = "adx_owner"
DEV_KEY_FILE = "run-access.json"


class RunAccess:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @classmethod
    def from_settings(cls, settings: Settings) -> RunAccess:
        if settings.run_access_secret is not None:
            return cls(settings.run_access_secret.get_secret_value().encode())
        raw = development_secret(
            settings,
            "ADX_RUN_ACCESS_SECRET",
            DEV_KEY_FILE,
            lambda: {"secret": base64.b64encode(os.urandom(32)).decode()},
        )
        return cls(base64.b64decode(raw["secret"]))

    def token(self, run: RunIdentity) -> str:
        """Bound to the run chain (first run id), not just the id: a token from an earlier
        registration of the same address does not open a later one."""
        message = f"{run.workflow_id}\n{run.first_run_id}".encode()
        mac = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def digest(self, message: bytes) -> str:
        """A keyed digest under the same secret (the idempotency records' request fingerprints:
        a stored fingerprint of a sign-up reveals nothing of its password)."""
        mac = hmac.new(self._secret, b"digest\n" + message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def valid(self, run: RunIdentity, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.token(run), token or "")


@dataclass(frozen=True)
class RunIdentity:
    workflow_id: str
    first_run_id: str
    owner: str | None


async def identify_run(description: WorkflowExecutionDescription) -> RunIdentity:
    """A described run's chain (first run id) and owner."""
    owner = (await description.memo()).get(OWNER_MEMO)
    info = description.raw_description.workflow_execution_info
    return RunIdentity(
        workflow_id=description.id,
        first_run_id=info.first_run_id or description.run_id,
        owner=str(owner) if owner else None,
    )
