"""GraphQL types of bulk user operations (``bulkUserOperation`` and its report), built from the
user service's response models (``services/user/schemas.py``) field for field."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.scalars import JSON

from services.user.schemas import BulkReport, BulkRowOut


@strawberry.enum(description="What a bulk operation does to each row's user.")
class BulkOperationKind(Enum):
    IMPORT = "import"
    INVITE = "invite"
    CHANGE_ROLE = "change_role"
    DEACTIVATE = "deactivate"
    DELETE = "delete"


@strawberry.input(
    description="One operation over many users of your active tenant: the rows as CSV text "
    "(a header row: email, user_id, role, display_name, given_name, family_name, locale, "
    "time_zone) or as a list of row objects with those keys. Larger files: POST /users/bulk/operations."
)
class BulkUserOperationInput:
    operation: BulkOperationKind
    csv: str | None = None
    rows: JSON | None = None


@strawberry.experimental.pydantic.type(model=BulkRowOut, all_fields=True)
class BulkUserOperationRow:
    """A row's result: ``pending``, ``done``, ``failed`` (with ``error``) or ``cancelled``."""

    user_id: strawberry.ID | None


@strawberry.experimental.pydantic.type(model=BulkReport, all_fields=True)
class BulkUserOperationReport:
    """A bulk operation and every row's result, in upload order (the user service's
    ``BulkReport``; also ``GET /users/bulk/{workflowId}/report?format=csv|json``)."""

    rows: list[BulkUserOperationRow]


def report_of(body: BulkReport) -> BulkUserOperationReport:
    # (a pydantic type keeps no methods of its own: this builder lives beside it)
    return BulkUserOperationReport(
        **{**body.model_dump(), "rows": [BulkUserOperationRow(**r.model_dump()) for r in body.rows]}
    )
