"""Workflow-service capability: ``data_migration`` (workflows/reconciliation/), the
reconciliation of the copies services keep of each other's data, and its operator route."""

from services.common.feature import Feature
from services.workflow.reconciliation.routes import router
from workflows.reconciliation.data_migration import DataMigrationWorkflow

FEATURE = Feature(name="reconciliation", router=router, workflows=[DataMigrationWorkflow])
