"""Sealed values: single secrets (link tokens, TOTP codes, recovery codes, SSO grants and
session tokens) that have to pass through a workflow are sealed by the service before they
enter a workflow payload and unsealed by the service where they are used or shown.

Sealing is AES-256-GCM under the **seal keys** (``ADX_SEAL_KEYS``), which are *not* the
Temporal payload keys: an operator who reads histories through the codec endpoint sees
``sealed:v1:<kid>:<data>`` and nothing more. Each value is bound to a ``purpose`` (the kind of
secret and the workflow it travels in) as associated data, so a sealed value cannot be moved
to another step or another run. Keys rotate like the payload keys: the last key seals, every
configured key unseals.

Workflows never seal or unseal (no keys, no I/O in the sandbox): they pass the opaque string
along. Activities written before sealing returned raw values into histories that may still be
open; ``unseal_or_raw`` accepts both forms for as long as such runs exist.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.common.dev_secrets import development_secret
from services.common.settings import Settings

SETTING = "ADX_SEAL_KEYS"
DEV_KEY_FILE = "seal-keys.json"
VERSION = "v1"
PREFIX = f"sealed:{VERSION}:"
NONCE_BYTES = 12
#: Key ids appear in the sealed text, between colons.
KID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class SealError(ValueError):
    """A sealed value that cannot be opened: tampered, another purpose, or an unknown key."""


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


@dataclass(frozen=True)
class SealKeys:
    """``keys`` by id; ``active`` seals, every key unseals."""

    active: str
    keys: dict[str, bytes]

    @classmethod
    def parse(cls, raw: Sequence[dict[str, str]]) -> SealKeys:
        if not isinstance(raw, list) or not raw:
            raise ValueError(f"{SETTING} must be a non-empty JSON list of {{kid, key}}")
        keys: dict[str, bytes] = {}
        for item in raw:
            kid = item.get("kid") if isinstance(item, dict) else None
            if not isinstance(kid, str) or not KID.fullmatch(kid):
                raise ValueError(f"{SETTING}: every key needs a kid of [A-Za-z0-9_.-]{{1,64}}")
            try:
                key = base64.b64decode(item.get("key", ""), validate=True)
            except (binascii.Error, TypeError) as error:
                raise ValueError(f"{SETTING}: key {kid!r} is not base64") from error
            if len(key) != 32:
                raise ValueError(f"{SETTING}: key {kid!r} must be 32 bytes (AES-256)")
            keys[kid] = key
        return cls(active=raw[-1]["kid"], keys=keys)

    @classmethod
    def generate(cls, kid: str = "dev-1") -> list[dict[str, str]]:
        return [{"kid": kid, "key": base64.b64encode(os.urandom(32)).decode()}]


def _associated(kid: str, purpose: str) -> bytes:
    return f"adx-seal:{VERSION}:{kid}:{purpose}".encode()


class Sealer:
    def __init__(self, keys: SealKeys) -> None:
        self.keys = keys
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.keys.items()}

    def seal(self, plain: str, purpose: str) -> str:
        kid = self.keys.active
        nonce = os.urandom(NONCE_BYTES)
        box = self._ciphers[kid].encrypt(nonce, plain.encode(), _associated(kid, purpose))
        data = base64.urlsafe_b64encode(nonce + box).decode().rstrip("=")
        return f"{PREFIX}{kid}:{data}"

    def unseal(self, sealed: str, purpose: str) -> str:
        if not is_sealed(sealed):
            raise SealError("not a sealed value")
        kid, separator, data = sealed[len(PREFIX) :].partition(":")
        cipher = self._ciphers.get(kid)
        if not separator or cipher is None:
            raise SealError(f"no seal key {kid[:64]!r} configured")
        try:
            raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated(kid, purpose))
            return plain.decode()
        except (binascii.Error, ValueError, InvalidTag) as error:
            raise SealError("the sealed value is damaged or sealed for another purpose") from error

    def unseal_or_raw(self, value: str, purpose: str) -> str:
        """A sealed value opened, or a raw one as it is: results recorded before sealing (runs
        still open from before) carry raw secrets and must keep working."""
        return self.unseal(value, purpose) if is_sealed(value) else value

    def seal_json(self, value: object, purpose: str) -> str:
        return self.seal(json.dumps(value, separators=(",", ":")), purpose)

    def unseal_json(self, sealed: str, purpose: str) -> object:
        try:
            return json.loads(self.unseal(sealed, purpose))
        except json.JSONDecodeError as error:  # pragma: no cover - only our own JSON is sealed
            raise SealError("the sealed value is not JSON") from error


_cache: dict[tuple[str, str], Sealer] = {}


def sealer_for(settings: Settings) -> Sealer:
    """The process's sealer: ``ADX_SEAL_KEYS``, else (development and test only) a key generated
    into ``<data_dir>/keys/seal-keys.json`` and shared by every local process."""
    if settings.seal_keys is not None:
        source = ("setting", settings.seal_keys.get_secret_value())
    else:
        source = ("file", str(Path(settings.data_dir) / "keys" / DEV_KEY_FILE))
    sealer = _cache.get(source)
    if sealer is None:
        if source[0] == "setting":
            try:
                raw = json.loads(source[1])
            except json.JSONDecodeError as error:
                raise ValueError(f"{SETTING} is not valid JSON") from error
        else:
            raw = development_secret(settings, SETTING, DEV_KEY_FILE, SealKeys.generate)
        sealer = _cache[source] = Sealer(SealKeys.parse(raw))
    return sealer
