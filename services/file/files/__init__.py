"""File capability: metadata (list, get, rename, move, delete; docs/files.md)."""

from services.common.feature import Feature
from services.file.files.routes import router

FEATURE = Feature(name="files", router=router)
