"""The localstripe Stripe emulator (the `localstripe` dev dependency), as a managed process.

`make run` starts it when ``ADX_BILLING_PROVIDER=stripe`` and no ``ADX_STRIPE_API_BASE`` is set;
the tests start one per session (``tests/tenant/conftest.py``). It always starts from scratch:
localstripe would otherwise load ``/tmp/localstripe.pickle``, a file any local user can write
(and it unpickles it), and which every emulator on the machine overwrites. Its state therefore
lasts as long as the process; the plans are recreated at each start (``adx billing setup``).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import httpx

from services.devstack.ports import ensure_ports_free, wait_for_http
from services.devstack.processes import DevStackError, ManagedProcess

#: Any ``sk_`` key passes localstripe's check; this one is recognisably not a real key.
EMULATOR_API_KEY = "sk_test_adx_localstripe"
#: The webhook signing secret `make run` registers with the emulator and gives the services.
EMULATOR_WEBHOOK_SECRET = "whsec_adx_localstripe_development"  # noqa: S105 (emulator only)


def localstripe_binary() -> Path:
    """The ``localstripe`` console script of this venv, else one on PATH."""
    beside = Path(sys.executable).with_name("localstripe")
    if beside.is_file():
        return beside
    found = shutil.which("localstripe")
    if found is None:
        raise DevStackError("no localstripe: run `uv sync` (it is a dev dependency)")
    return Path(found)


def stripe_emulator_url(port: int, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{port}"


def start_stripe_emulator(
    port: int = 8420,
    *,
    host: str = "127.0.0.1",
    log_file: Path | None = None,
    echo: bool = True,
    startup_timeout: float = 30.0,
    die_with_parent: bool = False,
) -> ManagedProcess:
    """Start localstripe on ``port`` (it binds every interface: keep the port off the network)
    and return once it answers HTTP."""
    ensure_ports_free({port: "the Stripe emulator (localstripe)"}, host)
    proc = ManagedProcess(
        "stripe",
        [localstripe_binary(), "--port", str(port), "--from-scratch"],
        log_file=log_file,
        echo=echo,
        die_with_parent=die_with_parent,
    ).start()
    try:
        # An unauthenticated page of localstripe's own (its Stripe.js stand-in).
        wait_for_http(
            f"{stripe_emulator_url(port, host)}/js.stripe.com/v3/", startup_timeout, process=proc
        )
    except BaseException:
        proc.stop()
        raise
    return proc


def register_webhook(
    api_base: str, url: str, secret: str, *, name: str = "adx", events: list[str] | None = None
) -> None:
    """Have the emulator deliver its events to ``url``, signed with ``secret`` (localstripe's
    ``POST /_config/webhooks/<name>``; on real Stripe the endpoint is made in the dashboard)."""
    data: dict[str, object] = {"url": url, "secret": secret}
    if events is not None:
        data["events"] = events
    response = httpx.post(f"{api_base.rstrip('/')}/_config/webhooks/{name}", json=data, timeout=10)
    if response.status_code != 200:
        raise DevStackError(f"localstripe refused the webhook {url}: {response.status_code}")
