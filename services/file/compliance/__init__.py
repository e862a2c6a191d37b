"""File capability: its side of the GDPR procedures (workflows/compliance/): the files a person
owns and their shares exported, the export archive built (every service's part plus the files'
bytes, one zip streamed into the blob store), and the person's files and blobs erased."""

from services.common.feature import Feature
from services.file.compliance.activities import FileComplianceActivities

FEATURE = Feature(
    name="compliance",
    activities=lambda resources: FileComplianceActivities(resources).all(),
)
