"""Request field types of the auth API: generous bounds that only stop abuse (the real rules —
e-mail syntax, password policy — are checked where they apply, with messages a form can show)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

Email = Annotated[str, Field(min_length=1, max_length=320)]
#: Any length up to a bound: at login an over-long guess is just a wrong password.
Password = Annotated[str, Field(min_length=1, max_length=1024)]
DisplayName = Annotated[str, Field(min_length=1, max_length=1000)]
#: Refresh, verification and reset tokens (43 characters when issued).
OpaqueToken = Annotated[str, Field(min_length=16, max_length=200)]
