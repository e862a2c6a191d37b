"""The two signatures of the GDPR procedures, HMAC-SHA256 under keys derived (HKDF-SHA256, each
its own ``info``) from the seal keys (``ADX_SEAL_KEYS``, ``services/common/sealing.py``): the
active key signs, every configured key verifies, so rotating the seal keys rotates these.

- the export download link: over the export id and its expiry (the link is the credential; it
  is made inside the mailing activity, so it is in no workflow history);
- the erasure receipt: over its canonical JSON (``POST /compliance/receipts/verify``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.common.sealing import sealer_for
from services.common.settings import Settings

S = TypeVar("S", bound="_Signer")
EXPORT_PATH = "/compliance/exports/{export_id}/archive"


def _derive(seal_key: bytes, purpose: str, kid: str) -> bytes:
    info = f"adx-compliance-{purpose}:v1:{kid}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(seal_key)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class _Signer:
    purpose = ""

    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        self._keys = {kid: _derive(key, self.purpose, kid) for kid, key in keys.items()}
        self.active = active

    @classmethod
    def for_settings(cls: type[S], settings: Settings) -> S:
        keys = sealer_for(settings).keys
        return cls(keys.keys, keys.active)

    def mac(self, kid: str, message: str) -> str:
        return _b64(hmac.new(self._keys[kid], message.encode(), hashlib.sha256).digest())

    def valid(self, kid: str, message: str, signature: str) -> bool:
        return kid in self._keys and hmac.compare_digest(
            self.mac(kid, message).encode(), signature.encode("utf-8", "replace")
        )


@dataclass(frozen=True)
class ExportLink:
    export_id: str
    expires: int


class ExportLinkSigner(_Signer):
    purpose = "export-link"

    def path(self, link: ExportLink) -> str:
        sig = self.mac(self.active, f"{link.export_id}\n{link.expires}")
        query = urlencode({"exp": link.expires, "kid": self.active, "sig": sig})
        return f"{EXPORT_PATH.format(export_id=link.export_id)}?{query}"

    def check(self, link: ExportLink, kid: str, sig: str, now: float | None = None) -> str:
        """ "" when the link is good, else why not (``invalid`` or ``expired``)."""
        if not self.valid(kid, f"{link.export_id}\n{link.expires}", sig):
            return "invalid"
        if link.expires <= (time.time() if now is None else now):
            return "expired"
        return ""


class ReceiptSigner(_Signer):
    purpose = "erasure-receipt"

    def sign(self, receipt: str) -> tuple[str, str]:
        return self.active, self.mac(self.active, receipt)
