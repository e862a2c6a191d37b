"""The bodies of SCIM writes, read from untrusted bytes into ``scim2-models`` messages: at most
``BODY_MAX_BYTES``, UTF-8, nesting bounded (``services/common/json_input.py``), an object, every
attribute one of the schema's (an unknown one is refused, not dropped), each error a SCIM 400
that names the field and never echoes the value."""

from __future__ import annotations

import json
from typing import Any, Final, TypeVar

from pydantic import ValidationError
from scim2_models import Context, Group, PatchOp, SCIMException, User
from starlette.requests import Request

from services.common.json_input import MalformedJsonError, loads
from services.user.scim.errors import (
    ScimError,
    from_scim_exception,
    from_validation,
    invalid_syntax,
)

#: A User or a PatchOp of a few dozen operations is a few kilobytes; a Group's member list of
#: ``MAX_GROUP_MEMBERS`` fits too.
BODY_MAX_BYTES: Final = 256 * 1024
#: A Group PUT or PATCH names at most this many members (each one a membership change).
MAX_GROUP_MEMBERS: Final = 200
MAX_OPERATIONS: Final = 100

M = TypeVar("M", User, Group)


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > BODY_MAX_BYTES:
        raise ScimError(413, f"a SCIM body has at most {BODY_MAX_BYTES} bytes")
    try:
        value = loads(raw)
    except MalformedJsonError as error:
        raise invalid_syntax(error.msg) from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise invalid_syntax("the body is not JSON") from None
    if not isinstance(value, dict):
        raise invalid_syntax("the body is a JSON object")
    return value


def resource(model: type[M], body: dict[str, Any], context: Context) -> M:
    """``body`` as a ``model`` in ``context`` (creation or replacement request)."""
    try:
        return model.model_validate(body, scim_ctx=context)
    except ValidationError as error:
        raise from_validation(error) from None
    except SCIMException as error:
        raise from_scim_exception(error) from None


def patch_op(model: type[M], body: dict[str, Any]) -> PatchOp[Any]:
    operations = body.get("Operations", body.get("operations"))
    if isinstance(operations, list) and len(operations) > MAX_OPERATIONS:
        raise ScimError(400, f"a PATCH has at most {MAX_OPERATIONS} operations", "invalidValue")
    try:
        return PatchOp[model].model_validate(  # type: ignore[valid-type]
            body, scim_ctx=Context.RESOURCE_PATCH_REQUEST
        )
    except ValidationError as error:
        raise from_validation(error) from None
    except SCIMException as error:
        raise from_scim_exception(error) from None


def apply_patch(patch: PatchOp[Any], target: M) -> M:
    """A copy of ``target`` with ``patch`` applied (``scim2-models``' own PATCH semantics:
    value paths, filters in paths, add to multi-valued attributes); the original is kept for
    the diff."""
    patched = target.model_copy(deep=True)
    try:
        patch.patch(patched)
        # The patched resource must still be a valid one (a value of the wrong type in a
        # sub-attribute, a removed required attribute).
        type(target).model_validate(
            patched.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST),
            scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST,
        )
    except ValidationError as error:
        raise from_validation(error) from None
    except SCIMException as error:
        raise from_scim_exception(error) from None
    except (TypeError, ValueError, AttributeError, RecursionError) as error:
        detail = f"the PATCH does not apply: {type(error).__name__}"
        raise ScimError(400, detail, "invalidValue") from None
    return patched
