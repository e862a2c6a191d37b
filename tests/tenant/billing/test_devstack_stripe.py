"""`make run` with ADX_BILLING_PROVIDER=stripe: the emulator comes up from the project's own
files, the services get its address, key and webhook secret, and `adx billing setup` creates
the plans (twice is harmless)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from services.devstack.catalog import PLATFORM_SERVICES, SETUP_STEPS
from services.devstack.launcher import STRIPE_WEBHOOK_PATH, DevConfig, DevStack
from services.devstack.ports import free_port
from services.devstack.stripe import EMULATOR_API_KEY


def test_the_emulator_starts_only_for_the_stripe_provider(tmp_path: Path) -> None:
    assert not DevConfig.from_env({}, tmp_path).stripe_emulator
    assert not DevConfig.from_env({"ADX_BILLING_PROVIDER": "local"}, tmp_path).stripe_emulator
    assert DevConfig.from_env({"ADX_BILLING_PROVIDER": "stripe"}, tmp_path).stripe_emulator
    # A Stripe of its own (e.g. the real test mode): no emulator.
    real = {"ADX_BILLING_PROVIDER": "stripe", "ADX_STRIPE_API_BASE": "https://api.stripe.com"}
    assert not DevConfig.from_env(real, tmp_path).stripe_emulator
    assert "billing-setup" in [step.name for step in SETUP_STEPS]


def test_make_run_brings_up_the_emulator_and_its_plans(tmp_path: Path) -> None:
    port = free_port()
    env = {"ADX_BILLING_PROVIDER": "stripe", "ADX_EMBEDDED_STRIPE_PORT": str(port)}
    stack = DevStack(DevConfig.from_env(env, tmp_path), env, PLATFORM_SERVICES, [])
    try:
        stack.start_stripe_emulator()
        assert stack.env["ADX_STRIPE_API_BASE"] == f"http://127.0.0.1:{port}"
        assert stack.env["ADX_STRIPE_API_KEY"] == EMULATOR_API_KEY
        assert stack.env["ADX_STRIPE_WEBHOOK_SECRET"].startswith("whsec_")
        assert "Stripe emulator" in stack.banner()
        child = {**os.environ, **stack.env, "ADX_ENV": "development", "ADX_DATA_DIR": str(tmp_path)}
        for _ in range(2):
            done = subprocess.run(
                [sys.executable, "-m", "services.cli", "billing", "setup"],
                env=child,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            assert "team: Stripe plan adx-team" in done.stdout
        plans = httpx.get(
            f"http://127.0.0.1:{port}/v1/plans",
            headers={"Authorization": f"Bearer {EMULATOR_API_KEY}"},
        ).json()
        assert sorted(p["id"] for p in plans["data"]) == ["adx-business", "adx-team"]
        assert STRIPE_WEBHOOK_PATH == "/billing/webhooks/stripe"
    finally:
        stack.group.stop_all()
    assert not any(proc.is_running() for proc in stack.long_running)


def test_billing_setup_with_the_local_provider_does_nothing(tmp_path: Path) -> None:
    child = {
        **os.environ,
        "ADX_BILLING_PROVIDER": "local",
        "ADX_ENV": "development",
        "ADX_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "billing", "setup"],
        env=child,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "ADX_BILLING_PROVIDER=local: no Stripe plans to set up" in done.stdout
