"""The user service's HTTP contract: response models, pydantic only. The routes declare them and
the gateway validates the answers it gets with them, so the REST and GraphQL shapes cannot
drift; nothing here imports the service's runtime code."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class ProfileOut(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str
    created_at: datetime
