"""Workflow-service capability: the GDPR procedures (workflows/compliance/): ``gdpr_export`` and
``gdpr_erasure``, their routes (``/compliance``) and the workflow service's own steps (the mailed
link, the export's removal, the purge of runs and Redis keys, the signed receipt)."""

from services.common.feature import Feature
from services.workflow.compliance.activities import ComplianceActivities
from services.workflow.compliance.routes import router
from workflows.compliance.gdpr_erasure import GdprErasureWorkflow
from workflows.compliance.gdpr_export import GdprExportWorkflow

FEATURE = Feature(
    name="compliance",
    router=router,
    workflows=[GdprExportWorkflow, GdprErasureWorkflow],
    activities=lambda resources: ComplianceActivities(resources).all(),
)
