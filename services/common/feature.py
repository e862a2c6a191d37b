"""How a service declares itself: a tuple of features, each what one capability contributes
(its routes, its workflows, its activities), gathered by ``ServiceSpec`` (``runner.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

if TYPE_CHECKING:
    from services.common.resources import Resources

#: Builds a capability's activities (bound methods of a class made once per worker).
ActivitiesFactory = Callable[["Resources"], Sequence[Callable[..., Any]]]


def _no_activities(_: Resources) -> Sequence[Callable[..., Any]]:
    return ()


@dataclass(frozen=True)
class Feature:
    """One capability of a service (``services/<domain>/<capability>/__init__.py`` ``FEATURE``)."""

    name: str
    router: APIRouter | None = None
    workflows: Sequence[type] = ()
    activities: ActivitiesFactory = field(default=_no_activities)


def routers_of(features: Sequence[Feature]) -> list[APIRouter]:
    return [f.router for f in features if f.router is not None]


def workflows_of(features: Sequence[Feature]) -> list[type]:
    return [w for f in features for w in f.workflows]


def activities_of(features: Sequence[Feature], resources: Resources) -> list[Callable[..., Any]]:
    return [a for f in features for a in f.activities(resources)]
