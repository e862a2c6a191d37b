"""`make run` says where the metrics are; `make prometheus` scrapes the ports `make run` uses."""

from __future__ import annotations

from pathlib import Path

import yaml

from services.devstack.catalog import PLATFORM_SERVICES, SETUP_STEPS
from services.devstack.launcher import DevConfig, DevStack
from services.devstack.prometheus import render_config, stack_ports


def test_the_banner_points_at_the_metrics_and_make_prometheus(tmp_path: Path) -> None:
    env = {"ADX_GATEWAY_PORT": "18080"}
    stack = DevStack(DevConfig.from_env(env, tmp_path), env, PLATFORM_SERVICES, SETUP_STEPS)

    banner = stack.banner()

    line = next(line for line in banner.splitlines() if line.strip().startswith("metrics"))
    assert "http://localhost:18080/metrics" in line and "make prometheus" in line


def test_make_prometheus_scrapes_the_ports_make_run_uses(tmp_path: Path) -> None:
    ports = stack_ports({"ADX_USER_PORT": "18082"})
    config = yaml.safe_load(
        render_config(tmp_path / "p.yml", ports, prometheus_port=19090).read_text()
    )

    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "adx"]
    targets = {c["labels"]["service"]: c["targets"] for c in job["static_configs"]}
    assert targets["user"] == ["127.0.0.1:18082"]
    assert targets["gateway"] == ["127.0.0.1:8080"]
    assert set(targets) == {"gateway", "auth", "user", "file", "workflow", "tenant"}
    assert all(Path(p).is_absolute() for p in config["rule_files"])
    (self_job,) = [j for j in config["scrape_configs"] if j["job_name"] == "prometheus"]
    assert self_job["static_configs"] == [{"targets": ["127.0.0.1:19090"]}]
