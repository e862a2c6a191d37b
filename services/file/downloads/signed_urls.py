"""Signed download URLs: an HMAC-SHA256 over the tenant, the file, its version and the expiry,
so a browser can fetch one file without a bearer token until the link expires.

The HMAC key is derived (HKDF-SHA256, its own ``info``) from the seal keys
(``ADX_SEAL_KEYS``, ``services/common/sealing.py``): the link carries the key id, the active
key signs, every configured key verifies, so the seal keys' rotation rotates these too. The
derived key is not the seal key itself, and no codec operator holds either."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.common.sealing import sealer_for
from services.common.settings import Settings
from services.file.errors import file_error
from workflows.file.contracts import FileError

VERSION = "v1"
SIGNED_PATH = "/files/signed/{tenant_id}/{file_id}"


def _derive(seal_key: bytes, kid: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=f"adx-file-url:{VERSION}:{kid}".encode(),
    ).derive(seal_key)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class SignedLink:
    tenant_id: uuid.UUID
    file_id: uuid.UUID
    version: int
    expires: int


class UrlSigner:
    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        self._keys = {kid: _derive(key, kid) for kid, key in keys.items()}
        self._active = active

    @classmethod
    def for_settings(cls, settings: Settings) -> UrlSigner:
        keys = sealer_for(settings).keys
        return cls(keys.keys, keys.active)

    def _mac(self, kid: str, link: SignedLink) -> str:
        message = f"{VERSION}\n{link.tenant_id}\n{link.file_id}\n{link.version}\n{link.expires}"
        return _b64(hmac.new(self._keys[kid], message.encode(), hashlib.sha256).digest())

    def url(self, link: SignedLink) -> str:
        query = urlencode(
            {
                "v": link.version,
                "exp": link.expires,
                "kid": self._active,
                "sig": self._mac(self._active, link),
            }
        )
        path = SIGNED_PATH.format(tenant_id=link.tenant_id, file_id=link.file_id)
        return f"{path}?{query}"

    def verify(self, link: SignedLink, kid: str, sig: str, now: float | None = None) -> None:
        """403 unless the signature is this link's under a configured key; 410 once expired."""
        if kid not in self._keys or not hmac.compare_digest(
            self._mac(kid, link).encode(), sig.encode("utf-8", "replace")
        ):
            raise file_error(FileError.INVALID_SIGNATURE, "this link is not valid")
        if link.expires <= (time.time() if now is None else now):
            raise file_error(FileError.URL_EXPIRED, "this link has expired; ask for a new one")
