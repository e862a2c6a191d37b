"""Local infrastructure and platform launcher (`make run`), reusable by tests."""

from services.devstack.catalog import PLATFORM_SERVICES, SETUP_STEPS, ServiceSpec, SetupStep
from services.devstack.launcher import DevConfig, main, run_dev
from services.devstack.ports import (
    ensure_ports_free,
    free_port,
    port_is_free,
    wait_for_http,
    wait_for_port,
)
from services.devstack.postgres import postgres_url, start_embedded_postgres
from services.devstack.processes import (
    DevStackError,
    ManagedProcess,
    ProcessGroup,
    StopRequested,
    run_to_completion,
)
from services.devstack.redis import redis_url, start_redis
from services.devstack.temporal import DEFAULT_NAMESPACES, start_temporal_dev_server

__all__ = [
    "DEFAULT_NAMESPACES",
    "PLATFORM_SERVICES",
    "SETUP_STEPS",
    "DevConfig",
    "DevStackError",
    "ManagedProcess",
    "ProcessGroup",
    "ServiceSpec",
    "SetupStep",
    "StopRequested",
    "ensure_ports_free",
    "free_port",
    "main",
    "port_is_free",
    "postgres_url",
    "redis_url",
    "run_dev",
    "run_to_completion",
    "start_embedded_postgres",
    "start_redis",
    "start_temporal_dev_server",
    "wait_for_http",
    "wait_for_port",
]
