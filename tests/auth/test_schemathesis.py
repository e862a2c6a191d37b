"""Schemathesis over the auth service's OpenAPI, against the service as a real process: every
operation, valid and invalid data, with and without a valid bearer token; no server error and
every response as documented."""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable
from redis.asyncio import Redis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from services.auth.runtime import AuthRuntime
from services.common.settings import ServiceName
from services.devstack.ports import free_port, wait_for_http
from services.devstack.processes import ManagedProcess
from tests.auth.conftest import AuthUser, create_user
from tests.support import Infra, start_service

#: Fixed, so a failure found once is found again on every run.
SEED = 20261126
#: Per operation and generation mode (valid / invalid data): keeps the whole run well under 60 s.
MAX_EXAMPLES = 30
CHECKS = [not_a_server_error, response_schema_conformance]
CORE_OPERATIONS = {
    "POST /auth/login",
    "POST /auth/refresh",
    "POST /auth/logout",
    "GET /auth/sessions",
    "DELETE /auth/sessions/{session_id}",
    "GET /auth/me",
    "GET /.well-known/jwks.json",
}


def client_ip(rng: random.Random) -> str:
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


@dataclass
class AuthProcess:
    """The auth service (HTTP and worker, as deployed) and a user to sign in as."""

    url: str
    process: ManagedProcess
    user: AuthUser
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    _token: str | None = None
    _cases: itertools.count[int] = field(default_factory=itertools.count)

    def client_headers(self) -> dict[str, str]:
        # X-Forwarded-For from 127.0.0.1 is believed (ADX_TRUSTED_PROXIES): each case is its own
        # client, so the per-client login throttle does not turn the run into a stream of 429s.
        return {"x-forwarded-for": client_ip(self.rng)}

    def token(self) -> str:
        if self._token is None:
            response = httpx.post(
                f"{self.url}/auth/login",
                json={"email": self.user.email, "password": self.user.password},
                headers=self.client_headers(),
                timeout=30,
            )
            assert response.status_code == 200, response.text
            self._token = str(response.json()["tokens"]["access_token"])
        return self._token

    def headers_for(self, case: schemathesis.Case) -> dict[str, str]:
        """Every other case of an operation that takes a bearer token gets a valid one (the rest
        keep what was generated, so bad tokens are exercised too)."""
        headers = self.client_headers()
        takes_token = any(p.name.lower() == "authorization" for p in case.operation.headers)
        if takes_token and next(self._cases) % 2 == 0:
            headers["authorization"] = f"Bearer {self.token()}"
        return headers

    def after(self, case: schemathesis.Case, response: object) -> None:
        """Logout and session revocation may end the session behind the cached token."""
        if case.method.upper() in ("POST", "DELETE") and getattr(response, "status_code", 0) == 204:
            self._token = None


@pytest.fixture(scope="module")
async def auth_process(infra: Infra, auth_runtime: AuthRuntime) -> AsyncIterator[AuthProcess]:
    port = free_port()
    redis_prefix = f"{infra.env['ADX_REDIS_PREFIX']}-schemathesis"
    env = {
        **infra.env,
        "ADX_AUTH_PORT": str(port),
        # Its own throttle counters, revocation list and task queues: nothing it starts or
        # counts leaks into other tests (and the MFA endpoints get their workflow worker).
        "ADX_REDIS_PREFIX": redis_prefix,
        "ADX_TASK_QUEUE_PREFIX": f"{infra.env['ADX_TASK_QUEUE_PREFIX']}-schemathesis",
    }
    process = start_service(
        ServiceName.auth, env, infra.data_dir / "logs", mode="both", name="auth-schemathesis"
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/health/live", timeout=60, process=process)
        yield AuthProcess(url=url, process=process, user=await create_user(auth_runtime))
    finally:
        process.stop()
        # The run's throttle counters (one per generated e-mail and client) go with it.
        redis = Redis.from_url(infra.env["ADX_REDIS_URL"])
        async for key in redis.scan_iter(match=f"{redis_prefix}:*", count=1000):
            await redis.delete(key)
        await redis.aclose()


def check_operation(
    operation: schemathesis.APIOperation, mode: GenerationMode, auth: AuthProcess
) -> None:
    """Up to MAX_EXAMPLES cases of ``operation`` in ``mode``; raises on the first (shrunk) failure."""

    @seed(SEED)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=auth.url, headers=auth.headers_for(case), timeout=30)
        auth.after(case, response)
        case.validate_response(response, checks=CHECKS)

    run()


def test_no_server_errors_and_documented_responses(auth_process: AuthProcess) -> None:
    schema = schemathesis.openapi.from_url(f"{auth_process.url}/openapi.json")
    operations: list[schemathesis.APIOperation] = []
    failures: list[str] = []
    for result in schema.get_all_operations():
        if isinstance(result, Ok):
            operations.append(result.ok())
        else:
            failures.append(f"unusable operation in the OpenAPI document: {result.err()}")
    for operation, mode in itertools.product(operations, GenerationMode):
        try:
            check_operation(operation, mode, auth_process)
        except Unsatisfiable:
            pass  # nothing to make invalid (no parameters, or none that can be wrong)
        except (Exception, BaseExceptionGroup) as error:  # schemathesis' FailureGroup is a Base one
            failures.append(f"{operation.label} [{mode.value}]: {error}")
    # pytest 9 broke schemathesis' parametrize (Function._nodeid), hence one test over all
    # operations, which must include the core endpoints at least.
    labels = {operation.label for operation in operations}
    assert CORE_OPERATIONS <= labels, CORE_OPERATIONS - labels
    if failures:
        # The server's tracebacks are in its log; show its end next to the failing cases.
        log = "\n".join(auth_process.process.tail(80))
        pytest.fail("\n\n".join(failures) + "\n\n--- auth service log ---\n" + log)
