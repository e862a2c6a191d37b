"""The SCIM attributes of a User that the platform has no field for (``nickName``, ``addresses``,
``photos``, ``x509Certificates``, the rest of ``name``, ...) and its ``externalId``: kept per
tenant and member in ``users.scim_users`` so they round-trip on GET, PUT and PATCH.

They arrive validated by ``scim2-models`` (the schema's types: a sub-attribute it does not
know is refused, so nothing nests deeper than the schema does) and are bounded here: each
text, each multi-valued attribute and the whole record have a size limit, a refusal is a SCIM
400 naming the attribute, never the value. The values are a person's data: stored under the
tenant's RLS, never logged."""

from __future__ import annotations

import json
from typing import Any, Final

from pydantic import ValidationError
from scim2_models import Context, Name, User

from services.user.scim.errors import invalid_value
from storage.users.models import ScimUserRecord

#: User attributes kept as SCIM says them (python name -> SCIM name).
KEPT: Final = {
    "nick_name": "nickName",
    "profile_url": "profileUrl",
    "user_type": "userType",
    "preferred_language": "preferredLanguage",
    "ims": "ims",
    "photos": "photos",
    "addresses": "addresses",
    "entitlements": "entitlements",
    "roles": "roles",
    "x509_certificates": "x509Certificates",
    # The profile keeps one number (the primary's value, E.164); the list as SCIM said it
    # (types, display, other numbers) is kept here and shown while its primary is the
    # profile's number (``with_record``).
    "phone_numbers": "phoneNumbers",
}
#: The parts of ``name`` beyond ``givenName`` and ``familyName`` (which are the profile's).
KEPT_NAME: Final = {
    "formatted": "name.formatted",
    "middle_name": "name.middleName",
    "honorific_prefix": "name.honorificPrefix",
    "honorific_suffix": "name.honorificSuffix",
}
EXTERNAL_ID_MAX: Final = 255
#: Longest text of one attribute (a certificate's base64 value included).
TEXT_MAX: Final = 8192
#: Most values of one multi-valued attribute.
VALUES_MAX: Final = 20
#: The whole record, as JSON.
RECORD_MAX_BYTES: Final = 32 * 1024


def _check_texts(name: str, value: Any) -> None:
    if isinstance(value, str):
        if len(value) > TEXT_MAX:
            raise invalid_value(f"{name}: at most {TEXT_MAX} characters")
    elif isinstance(value, list):
        if len(value) > VALUES_MAX:
            raise invalid_value(f"{name}: at most {VALUES_MAX} values")
        for item in value:
            _check_texts(name, item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_texts(f"{name}.{key}", item)


def external_id_of(user: User[Any]) -> str | None:
    value = user.external_id
    if value is None or value == "":
        return None
    if len(value) > EXTERNAL_ID_MAX:
        raise invalid_value(f"externalId: at most {EXTERNAL_ID_MAX} characters")
    return value


def attributes_of(user: User[Any]) -> dict[str, Any]:
    """The kept attributes ``user`` states, as SCIM JSON (what ``users.scim_users`` stores);
    a 400 ``invalidValue`` past a bound."""
    name = user.name or Name()
    part: User[Any] = User(
        **{field: getattr(user, field) for field in KEPT},
        name=Name(**{field: getattr(name, field) for field in KEPT_NAME}),
    )
    dumped = part.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    dumped.pop("schemas", None)
    if not dumped.get("name"):
        dumped.pop("name", None)
    for key, value in dumped.items():
        _check_texts(key, value)
    if len(json.dumps(dumped, ensure_ascii=False).encode()) > RECORD_MAX_BYTES:
        raise invalid_value(f"the User's other attributes take at most {RECORD_MAX_BYTES} bytes")
    return dumped


def with_record(user: User[Any], record: ScimUserRecord | None) -> User[Any]:
    """``user`` (built from the platform's rows) with what SCIM keeps of it."""
    if record is None:
        return user
    user.external_id = record.external_id
    try:
        kept: User[Any] = User.model_validate(record.attributes)
    except ValidationError:
        # Written validated; a row the model no longer reads loses its extras, not the User.
        return user
    for field in KEPT:
        if field != "phone_numbers":
            setattr(user, field, getattr(kept, field))
    if kept.phone_numbers and user.phone_numbers:
        said = next((n for n in kept.phone_numbers if n.primary), kept.phone_numbers[0])
        if said.value == user.phone_numbers[0].value:
            user.phone_numbers = kept.phone_numbers
    if kept.name is not None:
        name = user.name or Name()
        for field in KEPT_NAME:
            setattr(name, field, getattr(kept.name, field))
        user.name = name
    return user
