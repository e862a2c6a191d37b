"""The committed workflow histories (``tests/histories``) that the replay tests replay, and the
tampering that makes a ``*.broken.json`` twin of one."""

from __future__ import annotations

import json

from tests.support import ROOT

HISTORIES = ROOT / "tests" / "histories"


def tamper(history_json: str) -> str:
    """Swap the first scheduled activity for another one, as a careless code change would."""
    history = json.loads(history_json)
    for event in history["events"]:
        attributes = event.get("activityTaskScheduledEventAttributes")
        if attributes:
            attributes["activityType"]["name"] += "_renamed"
            return json.dumps(history)
    raise AssertionError("history has no scheduled activity to tamper with")
