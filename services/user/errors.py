"""The user domain's errors as HTTP answers, mapped once (as ``services/tenant/errors.py``).

Every ``UserError`` (``workflows/user/contracts.py``) has one status here; a route raises
``user_error(UserError.X, detail)``. The problem+json body carries ``code``, the ``UserError``
value, and for refused preferences ``errors``: one message per offending key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from services.common.errors import DomainError
from workflows.user.contracts import UserError

STATUS: Final[Mapping[UserError, tuple[int, str]]] = {
    UserError.INVALID_INPUT: (422, "Invalid input"),
    # Unknown and invisible users get the same answer: ids cannot be probed.
    UserError.USER_NOT_FOUND: (404, "Not found"),
    UserError.PERMISSION_DENIED: (403, "Permission denied"),
    UserError.INVALID_PREFERENCES: (422, "Invalid preferences"),
    UserError.ACCOUNT_CHANGE_REFUSED: (409, "Account change refused"),
}

PROBLEM_BASE: Final = "https://adx.dev/problems/user/"


class UserProblem(DomainError):
    def __init__(self, error: UserError, detail: str, **extra: Any) -> None:
        super().__init__(detail, extra={"code": error.value, **extra})
        self.error = error
        self.status, self.title = STATUS[error]
        self.type = PROBLEM_BASE + error.value


def user_error(error: UserError, detail: str, **extra: Any) -> UserProblem:
    return UserProblem(error, detail, **extra)
