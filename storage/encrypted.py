"""Columns encrypted at rest (AES-256-GCM, key ids for rotation), for secrets the service must
read back in clear — e.g. TOTP seeds. Keys are the payload keys (``ADX_PAYLOAD_KEYS``),
configured once per process by whoever owns such columns."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

PREFIX = "enc:"


class FieldKeys(Protocol):
    """AES-256 keys by id; ``active`` encrypts, every key decrypts (``PayloadKeys`` is one)."""

    @property
    def active(self) -> str: ...

    @property
    def keys(self) -> Mapping[str, bytes]: ...


_keys: FieldKeys | None = None


def configure_field_keys(keys: FieldKeys) -> None:
    global _keys
    _keys = keys


def _configured() -> FieldKeys:
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
