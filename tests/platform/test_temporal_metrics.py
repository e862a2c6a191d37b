"""Temporal SDK metrics reach each process's ``/metrics``: after a sign-up runs its workflow and
activities on the real processes' workers, the Prometheus text carries the SDK's series for
exactly those task queues and activity types."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from services.common.settings import ServiceName
from services.devstack.ports import free_port
from tests.auth.mail_flows import link_token, plain_text, wait_for_outbox
from tests.graphql_client import gql
from tests.support import Infra, Stack, start_service
from workflows.auth.contracts import CREATE_CREDENTIALS
from workflows.user.contracts import CREATE_PROFILE

SIGN_UP = "mutation($input: SignUpInput!) { signUp(input: $input) { id } }"
VERIFY = "mutation($token: String!) { verifyEmail(token: $token) }"

Sample = tuple[str, dict[str, str], float]


def parsed(text: str) -> list[Sample]:
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


async def scrape(stack: Stack, service: ServiceName) -> list[Sample]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(stack.url(service, "/metrics"))
    assert response.status_code == 200
    return parsed(response.text)


async def samples_on_port(client: httpx.AsyncClient, port: int) -> list[Sample]:
    """What ``/metrics`` on a local port serves; nothing while the port does not answer yet."""
    try:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    except httpx.TransportError:
        return []
    return parsed(text)


def total(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(
        value
        for sample_name, sample_labels, value in samples
        if sample_name == name and labels.items() <= sample_labels.items()
    )


async def wait_for_metric(
    stack: Stack, service: ServiceName, name: str, at_least: float, **labels: str
) -> list[Sample]:
    deadline = time.monotonic() + 30
    while True:
        samples = await scrape(stack, service)
        if total(samples, name, **labels) >= at_least:
            return samples
        if time.monotonic() > deadline:
            seen = sorted({n for n, _, _ in samples if n.startswith("temporal_")})
            raise AssertionError(f"{name}{labels} < {at_least} on {service}; series: {seen}")
        await asyncio.sleep(0.2)


async def test_activity_and_workflow_task_series_follow_a_real_run(
    stack: Stack, infra: Infra
) -> None:
    queues = {s: stack.env["ADX_TASK_QUEUE_PREFIX"] + f"-{s.value}" for s in ServiceName}
    before_auth = total(
        await scrape(stack, ServiceName.auth),
        "temporal_activity_execution_latency_count",
        activity_type=CREATE_CREDENTIALS.name,
    )
    before_user = total(
        await scrape(stack, ServiceName.user),
        "temporal_activity_execution_latency_count",
        activity_type=CREATE_PROFILE.name,
    )

    email = f"metrics-{uuid.uuid4().hex[:10]}@example.com"
    variables = {
        "input": {"email": email, "password": "a long enough password", "displayName": "M"}
    }
    started = await gql(stack.graphql, SIGN_UP, variables)
    assert "errors" not in started, started
    # The run creates the account (credentials, profile) when its mailed link is redeemed.
    mail = (await wait_for_outbox(infra.settings(), email))[-1]
    token = link_token(plain_text(mail), "/verify-email")
    assert await gql(stack.graphql, VERIFY, {"token": token}) == {"data": {"verifyEmail": True}}

    # Each activity ran on its own service's worker and was counted there.
    auth = await wait_for_metric(
        stack,
        ServiceName.auth,
        "temporal_activity_execution_latency_count",
        before_auth + 1,
        activity_type=CREATE_CREDENTIALS.name,
        task_queue=queues[ServiceName.auth],
    )
    await wait_for_metric(
        stack,
        ServiceName.user,
        "temporal_activity_execution_latency_count",
        before_user + 1,
        activity_type=CREATE_PROFILE.name,
        task_queue=queues[ServiceName.user],
    )
    # The workflow's tasks ran on the auth worker: latency histogram and poller gauges.
    assert (
        total(
            auth,
            "temporal_workflow_task_execution_latency_count",
            task_queue=queues[ServiceName.auth],
        )
        >= 1
    )
    buckets = [
        (labels["le"], value)
        for name, labels, value in auth
        if name == "temporal_activity_execution_latency_bucket"
        and labels.get("activity_type") == CREATE_CREDENTIALS.name
    ]
    assert buckets and buckets[-1][0] == "+Inf"
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative
    # Counters are exposed the Prometheus way, with ``_total``.
    assert total(auth, "temporal_request_total") >= 1
    # HTTP metrics are still there beside them.
    assert total(auth, "adx_http_requests_total") >= 0
    assert any(name.startswith("adx_http_request") for name, _, _ in auth)


async def test_the_gateway_exposes_its_client_side_temporal_series(stack: Stack) -> None:
    samples = await scrape(stack, ServiceName.gateway)
    # The gateway only runs a client (no worker): its RPCs to Temporal are counted.
    assert (
        total(samples, "temporal_request_total", namespace=stack.env["ADX_TEMPORAL_NAMESPACE"]) >= 1
    )


async def test_a_worker_only_process_serves_its_temporal_series_on_the_metrics_port(
    stack: Stack, infra: Infra
) -> None:
    port = free_port()
    queue = stack.env["ADX_TASK_QUEUE_PREFIX"] + "-user"
    env = {**stack.env, "ADX_METRICS_PORT": str(port)}
    worker = start_service(
        ServiceName.user, env, infra.data_dir / "logs", mode="worker", name="user-worker-only"
    )
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                samples = await samples_on_port(client, port)
                # Its pollers on the user queue are reported once the worker runs.
                if any(
                    n.startswith("temporal_") and labels.get("task_queue") == queue
                    for n, labels, _ in samples
                ):
                    break
                assert time.monotonic() < deadline, sorted({n for n, _, _ in samples})
                await asyncio.sleep(0.2)
    finally:
        worker.stop()


async def test_with_a_metrics_port_a_dual_mode_process_serves_everything_there_and_not_on_its_api(
    stack: Stack, infra: Infra
) -> None:
    """``--mode both`` with ADX_METRICS_PORT: the HTTP series and the worker's Temporal series on
    the metrics port; the API port answers 404 for /metrics, with or without a token. Its own
    task queue prefix, so it takes no work from the stack's user process."""
    metrics_port, http_port = free_port(), free_port()
    prefix = f"{stack.env['ADX_TASK_QUEUE_PREFIX']}-mp{uuid.uuid4().hex[:6]}"
    env = {
        **stack.env,
        "ADX_METRICS_PORT": str(metrics_port),
        "ADX_HTTP_PORT": str(http_port),
        "ADX_TASK_QUEUE_PREFIX": prefix,
    }
    process = start_service(
        ServiceName.user, env, infra.data_dir / "logs", mode="both", name="user-metrics-port"
    )
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                try:
                    ready: httpx.Response | None = await client.get(
                        f"http://127.0.0.1:{http_port}/health/ready"
                    )
                except httpx.TransportError:
                    ready = None
                samples = await samples_on_port(client, metrics_port)
                http_seen = any(
                    n == "adx_http_requests_total" and labels.get("route") == "/health/ready"
                    for n, labels, _ in samples
                )
                worker_seen = any(
                    n.startswith("temporal_") and labels.get("task_queue") == f"{prefix}-user"
                    for n, labels, _ in samples
                )
                if ready is not None and ready.status_code == 200 and http_seen and worker_seen:
                    break
                assert time.monotonic() < deadline, sorted({n for n, _, _ in samples})
                await asyncio.sleep(0.2)
            for headers in ({}, {"authorization": "Bearer garbage"}):
                api = await client.get(f"http://127.0.0.1:{http_port}/metrics", headers=headers)
                assert api.status_code == 404, api.text
            # The rest of the API port is unchanged: probes public, data routes need a token.
            assert (await client.get(f"http://127.0.0.1:{http_port}/health/live")).is_success
            users = await client.get(f"http://127.0.0.1:{http_port}/users/{uuid.uuid4()}")
            assert users.status_code == 401
    finally:
        process.stop()
