"""What `make run` starts: the platform's processes and the setup commands before them, as data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServiceSpec:
    """One platform process: ``python -m <module> <args>``, serving HTTP on ``default_port``.

    The port can be moved with ``ADX_<NAME>_PORT`` (the variable the process itself reads,
    see services/common/settings.py); the launcher exports the value it used.
    """

    name: str
    module: str
    default_port: int
    args: tuple[str, ...] = ()
    docs_path: str | None = "/docs"

    @property
    def port_variable(self) -> str:
        return f"ADX_{self.name.upper()}_PORT"

    def port(self, env: Mapping[str, str]) -> int:
        return int(env.get(self.port_variable, self.default_port))


@dataclass(frozen=True)
class SetupStep:
    """A one-shot command run (in order) after the infrastructure is up, before the services."""

    name: str
    module: str
    args: tuple[str, ...] = field(default_factory=tuple)


#: DESIGN.md section 2. Each service runs its HTTP app and its Temporal worker (--mode both).
PLATFORM_SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("gateway", "gateway", 8080, docs_path=None),
    ServiceSpec("auth", "services.auth", 8081),
    ServiceSpec("user", "services.user", 8082),
    ServiceSpec("file", "services.file", 8083),
    ServiceSpec("workflow", "services.workflow", 8084),
    ServiceSpec("tenant", "services.tenant", 8085),
)

SETUP_STEPS: tuple[SetupStep, ...] = (
    SetupStep("migrate", "services.cli", ("migrate",)),
    SetupStep("ns-setup", "services.cli", ("temporal", "setup")),
    # The Stripe plans of every paid plan (nothing to do with ADX_BILLING_PROVIDER=local).
    SetupStep("billing-setup", "services.cli", ("billing", "setup")),
)
