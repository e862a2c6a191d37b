"""Payload encryption for Temporal: AES-256-GCM with key ids, so keys can rotate; payloads
written before encryption (or with a retired key still configured) keep decoding."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, PayloadCodec

from services.common.dev_secrets import development_secret
from services.common.settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
DEV_KEY_FILE = "payload-keys.json"


class UnknownPayloadKeyError(ValueError):
    pass


@dataclass(frozen=True)
class PayloadKeys:
    """``keys`` by id; ``active`` encrypts, every key decrypts."""

    active: str
    keys: dict[str, bytes]

    @classmethod
    def parse(cls, raw: Sequence[dict[str, str]]) -> PayloadKeys:
        keys = {item["kid"]: base64.b64decode(item["key"]) for item in raw}
        if not keys or any(len(k) != 32 for k in keys.values()):
            raise ValueError("payload keys must be a non-empty list of 32-byte base64 keys")
        return cls(active=raw[-1]["kid"], keys=keys)

    @classmethod
    def from_settings(cls, settings: Settings) -> PayloadKeys:
        import json

        if settings.payload_keys is not None:
            return cls.parse(json.loads(settings.payload_keys.get_secret_value()))
        raw = development_secret(
            settings,
            "ADX_PAYLOAD_KEYS",
            DEV_KEY_FILE,
            lambda: [{"kid": "dev-1", "key": base64.b64encode(os.urandom(32)).decode()}],
        )
        return cls.parse(raw)


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: PayloadKeys) -> None:
        self._keys = keys
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        kid = self._keys.active
        cipher = self._ciphers[kid]
        out = []
        for payload in payloads:
            nonce = os.urandom(12)
            data = nonce + cipher.encrypt(nonce, payload.SerializeToString(), kid.encode())
            out.append(Payload(metadata={"encoding": ENCODING, KEY_ID: kid.encode()}, data=data))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decode_one(p) for p in payloads]

    def _decode_one(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # never encrypted (e.g. written before the codec existed)
        kid = payload.metadata[KEY_ID].decode()
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise UnknownPayloadKeyError(f"no payload key {kid!r} configured")
        nonce, sealed = payload.data[:12], payload.data[12:]
        decoded = Payload()
        decoded.ParseFromString(cipher.decrypt(nonce, sealed, kid.encode()))
        return decoded


def data_converter(settings: Settings) -> DataConverter:
    """The converter every client, worker and replayer of ADX CORE uses."""
    import dataclasses

    return dataclasses.replace(
        DataConverter.default, payload_codec=EncryptionCodec(PayloadKeys.from_settings(settings))
    )


def payloads_from_json(items: Iterable[dict[str, object]]) -> list[Payload]:
    from google.protobuf import json_format

    return [json_format.ParseDict(item, Payload()) for item in items]


def payloads_to_json(payloads: Iterable[Payload]) -> list[dict[str, object]]:
    from google.protobuf import json_format

    return [json_format.MessageToDict(p) for p in payloads]
