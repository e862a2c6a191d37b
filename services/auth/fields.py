"""Request field types of the auth API: generous bounds that only stop abuse (the real rules —
e-mail syntax, password policy — are checked where they apply, with messages a form can show).

The OpenAPI document states those real rules too (``json_schema_extra``: documented, enforced by
the code that applies them, not by pydantic), so a client or schemathesis knows what is valid:
an e-mail address is at most 254 characters (RFC 5321), a new password 8-128, a display name
1-200 printable characters, a token base64url, an e-mail address without control characters
(sign-up and reset refuse them as invalid addresses, login as characters the database cannot
store)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from workflows.auth.password_policy import MAX_LENGTH, MIN_LENGTH
from workflows.auth.user_registration import DISPLAY_NAME_MAX

#: No C0 control character and no DEL.
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"

Email = Annotated[
    str,
    Field(
        min_length=1,
        max_length=320,
        json_schema_extra={
            "format": "email",
            "maxLength": 254,
            "pattern": NO_CONTROL_CHARACTERS,
        },
    ),
]
#: Any length up to a bound: at login an over-long guess is just a wrong password.
Password = Annotated[str, Field(min_length=1, max_length=1024)]
#: A password being chosen: the policy (``check_policy``) enforces its length with a message a
#: form can show, and refuses the most common passwords (which no schema can list).
NewPassword = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1024,
        json_schema_extra={"minLength": MIN_LENGTH, "maxLength": MAX_LENGTH},
    ),
]
#: Stripped, then 1-200 characters, all printable (``registration_input``).
DisplayName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1000,
        json_schema_extra={
            "maxLength": DISPLAY_NAME_MAX,
            "pattern": r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
        },
    ),
]
#: Refresh, verification and reset tokens (43 characters when issued, base64url; verification
#: links of per-sign-up runs 107). Anything else is simply not a token: refused as unknown.
OpaqueToken = Annotated[
    str,
    Field(min_length=16, max_length=200, json_schema_extra={"pattern": r"^[A-Za-z0-9_-]+$"}),
]
