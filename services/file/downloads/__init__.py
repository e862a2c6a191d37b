"""File capability: downloads (Range, ETag, safe headers) and signed URLs (docs/files.md)."""

from services.common.feature import Feature
from services.file.downloads.routes import router

FEATURE = Feature(name="downloads", router=router)
