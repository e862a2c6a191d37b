"""What one auth capability contributes to the service: routes, workflows, activities."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

if TYPE_CHECKING:
    from services.auth.runtime import AuthRuntime


@dataclass(frozen=True)
class Feature:
    name: str
    router: APIRouter | None = None
    workflows: Sequence[type] = ()
    activities: Callable[[AuthRuntime], Sequence[Callable[..., Any]]] = field(default=lambda _: ())
