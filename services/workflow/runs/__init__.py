"""Run management: list, describe and act on workflow runs within the caller's scope
(docs/workflows.md)."""

from services.common.feature import Feature
from services.workflow.runs.routes import router

FEATURE = Feature(name="runs", router=router)
