"""Share link tokens: ``<tenant+share, base64url>~<kid>~<HMAC-SHA256>``, derived from the seal
keys (HKDF, an ``info`` of its own, as signed download URLs), so the link is rebuilt from the
share id whenever it is needed (the mail activity, ``shares``) and never stored or carried in
a workflow payload. The token only names the share: its status, expiry and password are read
from the row on every use, so revoking the share ends the link at once."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.common.errors import UnauthorizedError
from services.common.sealing import sealer_for
from services.common.settings import Settings

VERSION = "v1"
LINK_PATH = "/shares/links/{token}"
#: Longer tokens are refused before any work (a real one is about 110 characters).
MAX_TOKEN = 256


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class LinkRef:
    tenant_id: uuid.UUID
    share_id: uuid.UUID


class LinkSigner:
    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        self._keys = {
            kid: HKDF(
                algorithm=hashes.SHA256(),
                length=32,
                salt=None,
                info=f"adx-file-share:{VERSION}:{kid}".encode(),
            ).derive(key)
            for kid, key in keys.items()
        }
        self._active = active

    @classmethod
    def for_settings(cls, settings: Settings) -> LinkSigner:
        keys = sealer_for(settings).keys
        return cls(keys.keys, keys.active)

    def _mac(self, kid: str, body: str) -> str:
        message = f"{VERSION}\n{kid}\n{body}".encode()
        return _b64(hmac.new(self._keys[kid], message, hashlib.sha256).digest())

    def token(self, ref: LinkRef) -> str:
        body = _b64(ref.tenant_id.bytes + ref.share_id.bytes)
        return f"{body}~{self._active}~{self._mac(self._active, body)}"

    def path(self, ref: LinkRef) -> str:
        return LINK_PATH.format(token=self.token(ref))

    def parse(self, token: str) -> LinkRef:
        """The share a token names, if its HMAC verifies under a configured key (401 if not)."""
        parts = token.split("~") if len(token) <= MAX_TOKEN else []
        if len(parts) != 3 or parts[1] not in self._keys:
            raise _invalid()
        body, kid, mac = parts
        if not hmac.compare_digest(self._mac(kid, body).encode(), mac.encode("utf-8", "replace")):
            raise _invalid()
        try:
            raw = _unb64(body)
        except (binascii.Error, ValueError):
            raise _invalid() from None
        if len(raw) != 32:
            raise _invalid()
        return LinkRef(uuid.UUID(bytes=raw[:16]), uuid.UUID(bytes=raw[16:]))


def _invalid() -> Exception:
    # The link is the caller's credential: one that does not verify is refused as a missing
    # credential is (401, as every own-credential route: services/common/principal.py).
    return UnauthorizedError("this share link is not valid")
