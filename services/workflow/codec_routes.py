"""Remote codec endpoint for the Temporal Web UI: authorised operators can read encrypted
payloads (``/codec/decode``) in the UI; ``/codec/encode`` lets the UI send encrypted input.

Operators present ``ADX_CODEC_OPERATOR_TOKEN`` as a bearer token in every environment. The only
exception is the explicit development opt-out ``ADX_CODEC_OPEN_IN_DEVELOPMENT=true`` (refused
by the settings outside ``ADX_ENV=development``), for the Temporal UI of ``make run``, which
cannot send a token of its own. The check is a router dependency, so it runs before the body is
even parsed, for every route of this router."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict, Field

from services.common.app import ResourcesDep
from services.common.codec import payloads_from_json, payloads_to_json
from services.common.errors import (
    ForbiddenError,
    InvalidInputError,
    ServiceUnavailableError,
    UnauthorizedError,
)
from services.common.openapi import problem_response
from services.common.resources import Resources
from services.common.settings import Environment, Settings

MAX_PAYLOADS = 1000


#: Standard or URL-safe base64, padded or not: what ``payloads_from_json`` decodes (protobuf's
#: own parser would also skip stray characters; they are refused here, as documented).
Base64 = Annotated[str, Field(pattern=r"^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2,3})?={0,2}$")]


class PayloadJson(BaseModel):
    """A Temporal ``Payload`` in proto3 JSON, as the Temporal UI sends it."""

    model_config = ConfigDict(extra="forbid")

    metadata: dict[str, Base64] = Field(default_factory=dict)
    data: Base64 = ""


class PayloadsBody(BaseModel):
    payloads: Annotated[list[PayloadJson], Field(max_length=MAX_PAYLOADS)]


def authorize(settings: Settings, authorization: str | None) -> None:
    """Operators only: a bearer token equal to ``ADX_CODEC_OPERATOR_TOKEN`` (constant-time).
    Without a configured token the endpoint is closed (403), unless development opted out."""
    if settings.codec_open_in_development and settings.env == Environment.development:
        return
    expected = settings.codec_operator_token
    if expected is None:
        raise ForbiddenError(
            "the codec endpoint is closed: set ADX_CODEC_OPERATOR_TOKEN "
            "(or ADX_CODEC_OPEN_IN_DEVELOPMENT=true with ADX_ENV=development)"
        )
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), expected.get_secret_value().encode()
    ):
        raise UnauthorizedError("operator token required")


async def require_operator(
    resources: ResourcesDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    authorize(resources.settings, authorization)


router = APIRouter(
    prefix="/codec",
    tags=["codec"],
    dependencies=[Depends(require_operator)],
    responses={
        401: problem_response(401, "Operator token required"),
        403: problem_response(403, "Closed"),
    },
)


async def _apply(resources: Resources, body: PayloadsBody, decode: bool) -> dict[str, Any]:
    codec = resources.temporal.data_converter.payload_codec  # the one every worker uses
    if codec is None:
        raise ServiceUnavailableError("no payload codec configured")
    try:
        payloads = payloads_from_json(p.model_dump() for p in body.payloads)
        result = await (codec.decode(payloads) if decode else codec.encode(payloads))
    except Exception as error:  # malformed payloads or a key we do not hold
        raise InvalidInputError(f"cannot {'decode' if decode else 'encode'} payloads") from error
    return {"payloads": payloads_to_json(result)}


@router.post("/decode", responses={422: {}})
async def decode(body: PayloadsBody, resources: ResourcesDep) -> dict[str, Any]:
    return await _apply(resources, body, decode=True)


@router.post("/encode", responses={422: {}})
async def encode(body: PayloadsBody, resources: ResourcesDep) -> dict[str, Any]:
    return await _apply(resources, body, decode=False)
