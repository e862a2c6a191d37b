"""Columns encrypted at rest (AES-256-GCM, key ids for rotation), for secrets the service must
read back in clear — e.g. TOTP seeds. Keys are the payload keys (``ADX_PAYLOAD_KEYS``),
configured once per process by whoever owns such columns."""

from __future__ import annotations

import base64
import os
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

from services.common.codec import PayloadKeys

PREFIX = "enc:"
_keys: PayloadKeys | None = None


def configure_field_keys(keys: PayloadKeys) -> None:
    global _keys
    _keys = keys


def _configured() -> PayloadKeys:
    if _keys is None:
        raise RuntimeError("encrypted columns used before configure_field_keys()")
    return _keys


def encrypt_field(plain: str, purpose: str) -> str:
    keys = _configured()
    nonce = os.urandom(12)
    sealed = AESGCM(keys.keys[keys.active]).encrypt(nonce, plain.encode(), purpose.encode())
    return f"{PREFIX}{keys.active}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt_field(stored: str, purpose: str) -> str:
    if not stored.startswith(PREFIX):
        return stored  # written before encryption existed
    kid, _, data = stored[len(PREFIX) :].partition(":")
    raw = base64.urlsafe_b64decode(data)
    key = _configured().keys[kid]
    return AESGCM(key).decrypt(raw[:12], raw[12:], purpose.encode()).decode()


class EncryptedString(TypeDecorator[str]):
    """A string column stored encrypted; ``purpose`` binds ciphertexts to this column."""

    impl = String
    cache_ok = True

    def __init__(self, length: int, purpose: str) -> None:
        super().__init__(length)
        self.purpose = purpose

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else encrypt_field(str(value), self.purpose)

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else decrypt_field(value, self.purpose)
