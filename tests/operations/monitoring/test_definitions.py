"""deploy/monitoring checked by Prometheus's own tool: the configs and rules are valid, every
alert fires from synthetic series in the promtool unit tests, every alert has its runbook."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from services.devstack.prometheus import MONITORING_DIR, promtool_binary, render_config
from tests.operations.monitoring.conftest import prometheus_missing
from tests.operations.monitoring.definitions import (
    ROOT,
    alerts,
    dashboards,
    panel_queries,
    rules,
    runbook_path,
)

needs_promtool = pytest.mark.skipif(
    prometheus_missing() is not None, reason=str(prometheus_missing())
)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(promtool_binary()), *args], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


@needs_promtool
def test_the_local_config_and_its_rendering_are_valid(tmp_path) -> None:  # type: ignore[no-untyped-def]
    checked = promtool("check", "config", str(MONITORING_DIR / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rendered = render_config(tmp_path / "p.yml", {"gateway": 1, "user": 2}, interval="1s")
    checked = promtool("check", "config", str(rendered))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 2 rule files found" in checked.stdout


@needs_promtool
def test_the_rules_are_valid() -> None:
    files = sorted(str(p) for p in (MONITORING_DIR / "rules").glob("*.yml"))
    checked = promtool("check", "rules", *files)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert len(rules()) >= len(alerts()) >= 10


@needs_promtool
def test_every_alert_fires_in_the_promtool_unit_tests() -> None:
    tests = sorted(str(p) for p in (MONITORING_DIR / "tests").glob("*.yml"))
    ran = promtool("test", "rules", *tests)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    tested: set[str] = set()
    for path in tests:
        for case in yaml.safe_load(open(path).read())["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    tested.add(check["alertname"])
    assert {a.name for a in alerts()} <= tested, "alerts no unit test fires"


@needs_promtool
def test_a_broken_rule_fails_the_check(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: rate(up[5m]\n"
    )
    assert promtool("check", "rules", str(bad)).returncode != 0


def test_the_kubernetes_config_finds_the_manifests_pods() -> None:
    """Debian's build of Prometheus leaves kubernetes_sd out (promtool rejects the field), so
    this variant is checked against the manifests here: same rules, pods of namespace adx kept
    by their annotation and their ``metrics`` port, as deploy/k8s/base/ declares them."""
    config = yaml.safe_load((MONITORING_DIR / "prometheus-k8s.yml").read_text())
    local = yaml.safe_load((MONITORING_DIR / "prometheus.yml").read_text())
    assert config["rule_files"] == local["rule_files"]
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "adx"]
    assert job["kubernetes_sd_configs"][0]["namespaces"]["names"] == ["adx"]
    keeps = {
        r["source_labels"][0]: r["regex"]
        for r in job["relabel_configs"]
        if r.get("action") == "keep"
    }
    deployments = [
        doc
        for path in sorted((ROOT / "deploy" / "k8s" / "base").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "Deployment"
    ]
    assert len(deployments) == 6
    for deployment in deployments:
        template = deployment["spec"]["template"]
        assert (
            template["metadata"]["annotations"]["prometheus.io/scrape"]
            == keeps["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]
        )
        assert (
            template["metadata"]["labels"]["app.kubernetes.io/part-of"]
            == keeps["__meta_kubernetes_pod_label_app_kubernetes_io_part_of"]
        )
        ports = {p["name"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
        assert keeps["__meta_kubernetes_pod_container_port_name"] in ports
        assert deployment["metadata"]["namespace"] == "adx"


def test_every_alert_has_its_runbook() -> None:
    pages = set((ROOT / "docs" / "runbooks").glob("adx-*.md"))
    for alert in alerts():
        path = runbook_path(alert)
        assert path.is_file(), f"{alert.name}: no runbook at {path}"
        text = path.read_text()
        assert text.startswith(f"# {alert.name}\n"), path
        for section in ("## What it means", "## How to confirm", "## How to fix"):
            assert section in text, f"{path}: no {section!r}"
        assert "summary" in alert.annotations, alert.name
    assert pages == {runbook_path(a) for a in alerts()}, "a runbook without its alert"


def test_dashboards_are_grafana_json_with_a_query_per_panel() -> None:
    boards = dashboards()
    assert set(boards) == {"overview", "service", "workflows"}
    assert len({b["uid"] for b in boards.values()}) == len(boards)
    for name, board in boards.items():
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in board["panels"]:
            assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"]), panel
    assert len(panel_queries()) >= 25
