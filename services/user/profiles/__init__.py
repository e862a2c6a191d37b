"""Profiles: one's own, and the members' of one's tenant for its admins (``routes``); the rules
of each field are ``workflows/user/rules.py``. The sign-up's profile step stays with the core
activities (``services/user/activities.py``)."""

from services.common.feature import Feature
from services.user.profiles.routes import router

FEATURE = Feature(name="profiles", router=router)
