"""Verification links of sign-up runs (patch ``registration-run-per-sign-up``).

Every sign-up is its own run, and several may wait for one address at once, before any account
exists; so the link's token is not a database row (``auth.one_time_tokens`` belongs to an
account). It names its run and proves it was mailed by the auth service for that run:

    token = <address digest, 32 hex> <nonce, 32 hex> <HMAC-SHA256(link key, workflow id, run id)>

The first 64 characters are the run's workflow id (``user-registration-<digest>-<nonce>``), so
``/auth/verify-email`` finds the run without a lookup; the MAC (43 characters base64url) is
recomputable only with the auth service's seal keys, so the same mail step always mails the same token (a
retried step sends nothing new) and the ``auth.create_credentials`` activity can check the hash a
run presents against the token mailed for that very run. The workflow keeps only the token's
SHA-256 and compares it in its update validator; the raw token exists in the mail alone.

The link key is derived (HMAC with its own label) from each seal key (``ADX_SEAL_KEYS``, held by
the auth service alone: not the payload keys, which every process and the codec's operators
hold); all keys are tried when checking, so rotating the seal keys keeps pending links working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from services.auth.opaque import hash_token
from services.common.sealing import sealer_for
from services.common.settings import Settings
from workflows.auth.user_registration import RUN_ID_PREFIX

_LABEL = b"adx registration verification link v1"
_TOKEN = re.compile(r"([0-9a-f]{32})([0-9a-f]{32})[A-Za-z0-9_-]{43}")
_WORKFLOW = re.compile(re.escape(RUN_ID_PREFIX) + r"([0-9a-f]{32})-([0-9a-f]{32})")


def link_keys(settings: Settings) -> list[bytes]:
    """The link keys, the one derived from the active seal key first."""
    keys = sealer_for(settings).keys
    ordered = [keys.keys[keys.active], *(k for kid, k in keys.keys.items() if kid != keys.active)]
    return [hmac.new(key, _LABEL, hashlib.sha256).digest() for key in ordered]


def link_token(key: bytes, workflow_id: str, run_id: str) -> str:
    match = _WORKFLOW.fullmatch(workflow_id)
    if match is None:
        raise ValueError("not the workflow id of a per-sign-up registration run")
    mac = hmac.new(key, f"{workflow_id}\n{run_id}".encode(), hashlib.sha256).digest()
    return match[1] + match[2] + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def link_workflow_id(token: str) -> str | None:
    """The run a per-sign-up link token names; None for any other token (e.g. an older run's
    database-backed token, which is looked up instead)."""
    match = _TOKEN.fullmatch(token)
    return f"{RUN_ID_PREFIX}{match[1]}-{match[2]}" if match else None


def mailed_by_this_run(settings: Settings, workflow_id: str, run_id: str, token_hash: str) -> bool:
    """Whether ``token_hash`` is the SHA-256 of the link mailed for this run (under any key)."""
    if _WORKFLOW.fullmatch(workflow_id) is None:
        return False
    return any(
        hmac.compare_digest(hash_token(link_token(key, workflow_id, run_id)), token_hash)
        for key in link_keys(settings)
    )
