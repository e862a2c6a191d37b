"""The custom search attributes every ADX workflow run carries, so runs can be listed and
scoped by tenant and actor (docs/workflows.md).

They are stored **unencrypted** in Temporal's visibility store, so they hold opaque ids and
names only, never personal data: the tenant id, the acting user's id (an opaque UUID, not an
e-mail or a name) and the operation (the workflow type). The dev server's SQLite visibility
has a small fixed number of custom attribute columns per type (10 ``Keyword``), so ADX
registers three.

Set on every start in one place, the client interceptor of ``security_interceptor.py``, from
the caller's security context; child workflows inherit the parent's tenant and actor there too.
Registered idempotently by ``adx temporal setup`` (``services/common/namespaces.py``) and at the
dev server's start (``services/devstack/temporal.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributes,
    TypedSearchAttributes,
)

TENANT_ID: Final = SearchAttributeKey.for_keyword("AdxTenantId")
USER_ID: Final = SearchAttributeKey.for_keyword("AdxUserId")
OPERATION: Final = SearchAttributeKey.for_keyword("AdxOperation")
ALL: Final = (TENANT_ID, USER_ID, OPERATION)
#: Longest value stored (Temporal's Keyword limit is larger; ids are far shorter).
MAX_VALUE = 255


def definitions() -> dict[str, str]:
    """name -> Temporal type name (``Keyword``), for registration."""
    return {key.name: "Keyword" for key in ALL}


def _value(raw: str | None) -> str | None:
    return raw if raw and len(raw) <= MAX_VALUE else None


def stamped(
    existing: SearchAttributes | TypedSearchAttributes | None,
    *,
    tenant_id: str | None,
    user_id: str | None,
    operation: str | None,
) -> SearchAttributes | TypedSearchAttributes | None:
    """``existing`` with the ADX attributes the caller did not set themselves. Untyped (legacy
    dict) attributes are left as they are: one start never mixes both forms."""
    if existing is not None and not isinstance(existing, TypedSearchAttributes):
        return existing
    typed = existing or TypedSearchAttributes.empty
    have = {pair.key.name for pair in typed.search_attributes}
    pairs: list[SearchAttributePair[Any]] = list(typed.search_attributes)
    for key, raw in ((TENANT_ID, tenant_id), (USER_ID, user_id), (OPERATION, operation)):
        value = _value(raw)
        if value is not None and key.name not in have:
            pairs.append(SearchAttributePair(key, value))
    return TypedSearchAttributes(pairs) if pairs else existing


def adx_values(attributes: TypedSearchAttributes) -> dict[str, str | None]:
    """``{"tenant_id", "user_id", "operation"}`` of a run's attributes."""
    return {
        "tenant_id": attributes.get(TENANT_ID),
        "user_id": attributes.get(USER_ID),
        "operation": attributes.get(OPERATION),
    }


def names(keys: Iterable[SearchAttributeKey[Any]] = ALL) -> list[str]:
    return [key.name for key in keys]
