"""Temporal payloads are encrypted at rest; the codec endpoint decrypts for operators only."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from services.common.codec import (
    ENCODING,
    EncryptionCodec,
    PayloadKeys,
    UnknownPayloadKeyError,
    payloads_to_json,
)
from services.common.registration import start_sign_up
from services.common.settings import ServiceName, Settings
from tests.support import Stack


def keys(*kids: str) -> PayloadKeys:
    return PayloadKeys.parse(
        [{"kid": k, "key": base64.b64encode(k.encode().ljust(32, b"!")).decode()} for k in kids]
    )


async def test_round_trip_and_rotation() -> None:
    old = EncryptionCodec(keys("k1"))
    rotated = EncryptionCodec(keys("k1", "k2"))
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"password": "hunter2"}')

    sealed_old = await old.encode([plain])
    sealed_new = await rotated.encode([plain])

    assert b"hunter2" not in sealed_old[0].data
    assert sealed_new[0].metadata["encryption-key-id"] == b"k2"
    assert await rotated.decode(sealed_old) == [plain], "a retired key must still decrypt"
    assert await rotated.decode([plain]) == [plain], "unencrypted payloads pass through"
    with pytest.raises(UnknownPayloadKeyError):
        await old.decode(sealed_new)


async def test_history_on_the_server_holds_no_plaintext_secret(
    settings: Settings, temporal: Client, in_process_workers: str
) -> None:
    secret = f"pw-{uuid.uuid4().hex}"
    # A sign-up as the entry points start it (the password's hash in the input, since v3).
    workflow_id = await start_sign_up(
        temporal,
        f"{in_process_workers}-auth",
        email=f"c-{uuid.uuid4().hex[:8]}@example.com",
        password=secret,
        display_name="Codec",
        verification_timeout_seconds=1,
    )
    handle = temporal.get_workflow_handle(workflow_id)
    await handle.result()
    # A client without the codec sees what the server stores.
    raw_client = await Client.connect(
        settings.temporal_address, namespace=settings.temporal_namespace
    )
    history = await raw_client.get_workflow_handle(handle.id).fetch_history()

    assert secret.encode() not in history.to_json().encode()
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.input.payloads[0].metadata["encoding"] == ENCODING


async def test_codec_endpoint_decodes_only_for_operators(stack: Stack) -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"hello"')
    sealed = await EncryptionCodec(PayloadKeys.from_settings(Settings())).encode([plain])
    url = stack.url(ServiceName.workflow, "/codec/decode")
    body = {"payloads": payloads_to_json(sealed)}

    async with httpx.AsyncClient() as client:
        denied = await client.post(url, json=body)  # ADX_ENV=test: closed without a token
        # Refused before the body is even read (the operator check is a router dependency).
        malformed_anonymous = await client.post(url, json={"payloads": "nope"})
        preflight = await client.options(
            url,
            headers={
                "origin": "http://localhost:8088",
                "access-control-request-method": "POST",
            },
        )

    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    assert malformed_anonymous.status_code == 403
    assert preflight.headers.get("access-control-allow-origin") == "http://localhost:8088"


async def test_codec_endpoint_with_operator_token(infra, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from services.common.resources import Resources
    from services.workflow.service import create_workflow_app

    settings = Settings(codec_operator_token="op-secret")  # type: ignore[arg-type]
    resources = await Resources.open(settings, ServiceName.workflow)
    app = create_workflow_app(resources)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"hello"')
    sealed = await EncryptionCodec(PayloadKeys.from_settings(settings)).encode([plain])
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://wf"
        ) as client:
            wrong = await client.post(
                "/codec/decode",
                json={"payloads": payloads_to_json(sealed)},
                headers={"authorization": "Bearer nope"},
            )
            right = await client.post(
                "/codec/decode",
                json={"payloads": payloads_to_json(sealed)},
                headers={"authorization": "Bearer op-secret"},
            )
            malformed = await client.post(
                "/codec/decode",
                json={"payloads": "nope"},
                headers={"authorization": "Bearer op-secret"},
            )
            anonymous = await client.post(
                "/codec/decode", json={"payloads": payloads_to_json(sealed)}
            )
    finally:
        await resources.close()

    assert wrong.status_code == 401
    assert anonymous.status_code == 401
    assert right.status_code == 200
    assert right.json()["payloads"] == payloads_to_json([plain])
    assert malformed.status_code == 422


@pytest.mark.parametrize("env", ["development", "test", "staging", "production"])
async def test_codec_endpoint_needs_its_token_in_every_environment(env: str) -> None:
    """Issue 6: the endpoint used to be open in development whenever no token was set."""
    from services.common.errors import ForbiddenError
    from services.workflow.codec_routes import authorize

    closed = Settings(_env_file=None, env=env)  # type: ignore[call-arg]
    with pytest.raises(ForbiddenError):
        authorize(closed, None)
    with pytest.raises(ForbiddenError):
        authorize(closed, "Bearer anything")


def test_the_development_opt_out_is_explicit_and_development_only() -> None:
    from pydantic import ValidationError

    from services.workflow.codec_routes import authorize

    opted_out = Settings(_env_file=None, env="development", codec_open_in_development=True)  # type: ignore[call-arg]
    authorize(opted_out, None)  # open: the make-run Temporal UI cannot send a token
    for env in ("test", "staging", "production"):
        with pytest.raises(ValidationError, match="ADX_CODEC_OPEN_IN_DEVELOPMENT"):
            Settings(_env_file=None, env=env, codec_open_in_development=True)  # type: ignore[call-arg]
