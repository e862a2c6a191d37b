"""What deploy/monitoring defines: alert and recording rules, dashboard panel queries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from services.devstack.prometheus import MONITORING_DIR

RULES_DIR = MONITORING_DIR / "rules"
DASHBOARDS_DIR = MONITORING_DIR / "dashboards"
ROOT = MONITORING_DIR.parents[1]
#: Dashboard variables as a query gets them: a service of the stack, Grafana's rate interval.
VARIABLES = {"$service": "user", "${service}": "user", "$__rate_interval": "1m"}


@dataclass(frozen=True)
class Rule:
    group: str
    name: str
    expr: str
    alert: bool
    annotations: dict[str, str]


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    expr: str

    def resolved(self) -> str:
        expr = self.expr
        for variable, value in VARIABLES.items():
            expr = expr.replace(variable, value)
        return expr


def rules() -> list[Rule]:
    found = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                found.append(
                    Rule(
                        group["name"],
                        rule.get("alert") or rule["record"],
                        rule["expr"],
                        "alert" in rule,
                        rule.get("annotations", {}),
                    )
                )
    return found


def alerts() -> list[Rule]:
    return [rule for rule in rules() if rule.alert]


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(DASHBOARDS_DIR.glob("*.json"))}


def panel_queries() -> list[PanelQuery]:
    return [
        PanelQuery(name, panel["title"], target["expr"])
        for name, board in dashboards().items()
        for panel in board["panels"]
        for target in panel["targets"]
    ]


def runbook_path(rule: Rule) -> Path:
    return ROOT / rule.annotations["runbook_url"]
