"""Remote codec endpoint for the Temporal Web UI: authorised operators can read encrypted
payloads (``/codec/decode``) in the UI; ``/codec/encode`` lets the UI send encrypted input."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field

from services.common.app import ResourcesDep
from services.common.codec import payloads_from_json, payloads_to_json
from services.common.errors import (
    ForbiddenError,
    InvalidInputError,
    ServiceUnavailableError,
    UnauthorizedError,
)
from services.common.resources import Resources
from services.common.settings import Environment, Settings

router = APIRouter(prefix="/codec", tags=["codec"])

MAX_PAYLOADS = 1000


class PayloadsBody(BaseModel):
    payloads: Annotated[list[dict[str, Any]], Field(max_length=MAX_PAYLOADS)]


def authorize(settings: Settings, authorization: str | None) -> None:
    """Operators only: a bearer token equal to ``ADX_CODEC_OPERATOR_TOKEN`` (constant-time).
    Without a configured token the endpoint is open in development and closed elsewhere."""
    expected = settings.codec_operator_token
    if expected is None:
        if settings.env == Environment.development:
            return
        raise ForbiddenError("the codec endpoint is disabled: set ADX_CODEC_OPERATOR_TOKEN")
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), expected.get_secret_value().encode()
    ):
        raise UnauthorizedError("operator token required")


async def _apply(
    resources: Resources, body: PayloadsBody, authorization: str | None, decode: bool
) -> dict[str, Any]:
    authorize(resources.settings, authorization)
    codec = resources.temporal.data_converter.payload_codec  # the one every worker uses
    if codec is None:
        raise ServiceUnavailableError("no payload codec configured")
    try:
        payloads = payloads_from_json(body.payloads)
        result = await (codec.decode(payloads) if decode else codec.encode(payloads))
    except Exception as error:  # malformed payloads or a key we do not hold
        raise InvalidInputError(f"cannot {'decode' if decode else 'encode'} payloads") from error
    return {"payloads": payloads_to_json(result)}


@router.post("/decode", responses={401: {}, 403: {}, 422: {}})
async def decode(
    body: PayloadsBody,
    resources: ResourcesDep,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    return await _apply(resources, body, authorization, decode=True)


@router.post("/encode", responses={401: {}, 403: {}, 422: {}})
async def encode(
    body: PayloadsBody,
    resources: ResourcesDep,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    return await _apply(resources, body, authorization, decode=False)
