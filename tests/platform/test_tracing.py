"""OpenTelemetry traces cross process boundaries: gateway request → Temporal start → workflow →
activity → SQL, and gateway → service over HTTP → SQL. Real processes write their spans to one
JSON-lines file (``ADX_OTEL_EXPORTER=file``); each test sends its own W3C ``traceparent`` so it
reads exactly the spans of its request."""

from __future__ import annotations

import asyncio
import json
import queue
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor

from services.common.settings import ServiceName, Settings
from services.devstack.ports import free_port, wait_for_http
from tests.auth.mail_flows import link_token, plain_text, wait_for_outbox
from tests.support import RUN_ID, Infra, Stack, start_service, start_stack
from workflows.auth.contracts import CREATE_CREDENTIALS, AuthWorkflow
from workflows.user.contracts import CREATE_PROFILE

SIGN_UP = """
mutation SignUp($input: SignUpInput!) { signUp(input: $input) { id status accessToken } }"""
PROGRESS = """subscription($id: ID!, $token: String) {
  workflowProgress(id: $id, accessToken: $token) { id status } }"""
LOGIN = """mutation($input: LoginInput!) { login(input: $input) { tokens { accessToken } } }"""
VERIFY = "mutation($token: String!) { verifyEmail(token: $token) }"

Span = dict[str, Any]


@pytest.fixture(scope="module")
def spans_file(infra: Infra) -> Path:
    return infra.data_dir / f"spans-{RUN_ID}.jsonl"


@pytest.fixture(scope="module")
def traced_stack(infra: Infra, spans_file: Path) -> Iterator[Stack]:
    """gateway, auth and user with tracing to a file, on their own task queues."""
    env = {
        **infra.env,
        "ADX_OTEL_EXPORTER": "file",
        "ADX_OTEL_FILE": str(spans_file),
        "ADX_TASK_QUEUE_PREFIX": f"tr{RUN_ID}",
        "ADX_REDIS_PREFIX": f"adxtrace-{RUN_ID}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within 0.1 s instead of 5 s
    }
    stack = start_stack(
        env,
        infra.data_dir / "logs-traced",
        services=(ServiceName.gateway, ServiceName.auth, ServiceName.user),
    )
    yield stack
    for proc in stack.processes.values():
        proc.stop()


def new_traceparent() -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


async def post_graphql(stack: Stack, traceparent: str, query: str, variables: Any) -> Any:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            stack.graphql,
            json={"query": query, "variables": variables},
            headers={"traceparent": traceparent},
        )
    assert response.status_code == 200, response.text
    return response.json()


def read_trace(path: Path, trace_id: str) -> dict[str, Span]:
    """This trace's spans by span id (a span is written once it has ended)."""
    found: dict[str, Span] = {}
    if not path.exists():
        return found
    for line in path.read_text().splitlines():
        span = json.loads(line)
        if span["context"]["trace_id"] == f"0x{trace_id}":
            found[span["context"]["span_id"]] = span
    return found


async def wait_for_trace(
    path: Path, trace_id: str, done: Any, timeout: float = 30
) -> dict[str, Span]:
    """Poll the span file until ``done(spans)`` holds; fail with what arrived otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        spans = read_trace(path, trace_id)
        if done(spans):
            return spans
        if time.monotonic() > deadline:
            names = sorted(f"{service_of(s)}:{s['name']}" for s in spans.values())
            raise AssertionError(f"trace {trace_id} incomplete after {timeout}s: {names}")
        await asyncio.sleep(0.2)


def service_of(span: Span) -> str:
    return str(span["resource"]["attributes"]["service.name"])


def is_sql(span: Span) -> bool:
    return span["attributes"].get("db.system") == "postgresql" or (
        span["attributes"].get("db.system.name") == "postgresql"
    )


def ancestry(spans: dict[str, Span], span: Span) -> list[Span]:
    """``span`` and its parents up to the first one whose parent is outside the trace file."""
    chain = [span]
    while chain[-1]["parent_id"] in spans:
        chain.append(spans[chain[-1]["parent_id"]])
    return chain


def link_of(spans: dict[str, Span], name: str, service: str) -> Span | None:
    return next((s for s in spans.values() if s["name"] == name and service_of(s) == service), None)


def sql_under(spans: dict[str, Span], name: str, service: str) -> list[Span]:
    """SQL spans whose parent chain passes through span ``name`` of ``service``."""
    return [
        s
        for s in spans.values()
        if is_sql(s)
        and any(a["name"] == name and service_of(a) == service for a in ancestry(spans, s))
    ]


async def test_sign_up_is_one_trace_from_gateway_to_the_activities_sql(
    traced_stack: Stack, spans_file: Path, infra: Infra
) -> None:
    trace_id, traceparent = new_traceparent()
    email = f"trace-{uuid.uuid4().hex[:10]}@example.com"
    variables = {
        "input": {"email": email, "password": "a long enough password", "displayName": "T"}
    }

    started = await post_graphql(traced_stack, traceparent, SIGN_UP, variables)
    assert "errors" not in started, started
    # The run creates the account when its link is redeemed; the activities of that update
    # still hang under the span that started the run (TracingInterceptor), i.e. in this trace.
    mail = (await wait_for_outbox(infra.settings(), email))[-1]
    token = link_token(plain_text(mail), "/verify-email")
    _, click = new_traceparent()
    clicked = await post_graphql(traced_stack, click, VERIFY, {"token": token})
    assert clicked == {"data": {"verifyEmail": True}}, clicked

    credentials, profile = (
        f"RunActivity:{CREATE_CREDENTIALS.name}",
        f"RunActivity:{CREATE_PROFILE.name}",
    )
    spans = await wait_for_trace(
        spans_file,
        trace_id,
        lambda spans: (
            sql_under(spans, credentials, "adx-auth")
            and sql_under(spans, profile, "adx-user")
            and link_of(spans, "POST /graphql", "adx-gateway")
        ),
    )

    start = link_of(spans, f"StartWorkflow:{AuthWorkflow.USER_REGISTRATION}", "adx-gateway")
    run = link_of(spans, f"RunWorkflow:{AuthWorkflow.USER_REGISTRATION}", "adx-auth")
    assert start is not None and run is not None, sorted(s["name"] for s in spans.values())
    # TracingInterceptor hangs the workflow's own spans (the run and each activity it starts)
    # under the span that started it: see docs/observability.md.
    assert run["parent_id"] == start["context"]["span_id"]
    for activity, service in ((credentials, "adx-auth"), (profile, "adx-user")):
        chain = [
            (service_of(s), s["name"])
            for s in ancestry(spans, sql_under(spans, activity, service)[0])
        ]
        assert chain[1:] == [
            (service, activity),
            ("adx-auth", activity.replace("RunActivity:", "StartActivity:")),
            ("adx-gateway", f"StartWorkflow:{AuthWorkflow.USER_REGISTRATION}"),
            ("adx-gateway", "POST /graphql"),
        ], chain
        # The root is the gateway's server span, child of the caller's traceparent.
        root = ancestry(spans, sql_under(spans, activity, service)[0])[-1]
        assert root["kind"] == "SpanKind.SERVER"
        assert root["parent_id"] == "0x" + traceparent.split("-")[2]


async def test_gateway_call_to_a_service_is_one_trace_down_to_its_sql(
    traced_stack: Stack, spans_file: Path
) -> None:
    trace_id, traceparent = new_traceparent()
    credentials = {"email": f"nobody-{uuid.uuid4().hex[:8]}@example.com", "password": "wrong pw"}

    answer = await post_graphql(traced_stack, traceparent, LOGIN, {"input": credentials})
    assert answer["errors"], answer  # unknown account: refused by the auth service

    def auth_server_span(spans: dict[str, Span]) -> Span | None:
        return next(
            (
                s
                for s in spans.values()
                if service_of(s) == "adx-auth" and s["kind"] == "SpanKind.SERVER"
            ),
            None,
        )

    spans = await wait_for_trace(
        spans_file,
        trace_id,
        lambda spans: (
            (server := auth_server_span(spans)) is not None
            and sql_under(spans, server["name"], "adx-auth")
            and link_of(spans, "POST /graphql", "adx-gateway")
        ),
    )
    server = auth_server_span(spans)
    assert server is not None
    assert server["attributes"].get("http.route") == "/auth/login", server
    sql = sql_under(spans, server["name"], "adx-auth")[0]
    chain = ancestry(spans, sql)
    services = [service_of(s) for s in chain]
    kinds = [s["kind"] for s in chain]
    # SQL (auth) → auth server span → gateway httpx client span → ... → gateway server span
    assert services[0] == "adx-auth" and services[-1] == "adx-gateway", chain
    assert "SpanKind.CLIENT" in kinds[kinds.index("SpanKind.SERVER") + 1 :], kinds
    assert chain[-1]["name"] == "POST /graphql"


async def test_probes_and_scrapes_start_no_trace(traced_stack: Stack, spans_file: Path) -> None:
    trace_id, traceparent = new_traceparent()
    async with httpx.AsyncClient(timeout=10) as client:
        for path in ("/health/ready", "/metrics"):
            response = await client.get(
                traced_stack.url(ServiceName.gateway, path), headers={"traceparent": traceparent}
            )
            assert response.status_code == 200
    # A traced request afterwards proves the exporter is flushing while we look.
    marker_id, marker = new_traceparent()
    await post_graphql(traced_stack, marker, "{ __typename }", {})
    await wait_for_trace(spans_file, marker_id, lambda spans: bool(spans))
    assert read_trace(spans_file, trace_id) == {}


async def test_a_subscription_is_one_span_and_its_polling_is_not_traced(
    traced_stack: Stack, spans_file: Path
) -> None:
    _, untraced = new_traceparent()
    email = f"trace-{uuid.uuid4().hex[:10]}@example.com"
    variables = {
        "input": {"email": email, "password": "a long enough password", "displayName": "T"}
    }
    run = (await post_graphql(traced_stack, untraced, SIGN_UP, variables))["data"]["signUp"]

    trace_id, traceparent = new_traceparent()
    async with websockets.connect(
        traced_stack.graphql_ws,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers={"traceparent": traceparent},
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        subscribe = {"query": PROGRESS, "variables": {"id": run["id"], "token": run["accessToken"]}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
        message = json.loads(await ws.recv())  # the relay's progress query answered this
        assert message["type"] == "next", message

    spans = await wait_for_trace(
        spans_file,
        trace_id,
        lambda spans: any(s["kind"] == "SpanKind.SERVER" for s in spans.values()),
    )
    assert {service_of(s) for s in spans.values()} == {"adx-gateway"}
    assert not [s["name"] for s in spans.values() if s["kind"] == "SpanKind.CLIENT"], spans


async def test_tracing_off_by_default_adds_no_interceptor_and_no_provider(temporal: Client) -> None:
    # This test process runs with the default ADX_OTEL_EXPORTER=none.
    assert Settings().otel_exporter == "none"
    assert not any(isinstance(i, TracingInterceptor) for i in temporal.config()["interceptors"])
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)


@pytest.mark.parametrize(
    ("name", "value"), [("otel_exporter", "jaeger"), ("otel_sample_ratio", "1.5")]
)
def test_bad_tracing_settings_are_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(**{name: value})  # type: ignore[arg-type]
    assert name in str(refused.value)


class _Collector(BaseHTTPRequestHandler):
    """A stand-in OTLP/HTTP collector: keeps each export request it receives."""

    received: queue.Queue[tuple[str, str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.put((self.path, self.headers.get("content-type", ""), body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


async def test_otlp_exporter_delivers_a_services_spans_to_a_collector(infra: Infra) -> None:
    received: queue.Queue[tuple[str, str, bytes]] = queue.Queue()
    handler = type("Collector", (_Collector,), {"received": received})
    collector = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    port = free_port()
    env = {
        **infra.env,
        "ADX_OTEL_EXPORTER": "otlp",
        "ADX_OTEL_ENDPOINT": f"http://127.0.0.1:{collector.server_port}/v1/traces",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "ADX_AUTH_PORT": str(port),
    }
    auth = start_service(ServiceName.auth, env, infra.data_dir / "logs-otlp", mode="http")
    try:
        url = f"http://127.0.0.1:{port}"
        await asyncio.to_thread(wait_for_http, f"{url}/health/ready", 90, process=auth)
        async with httpx.AsyncClient(timeout=10) as client:
            assert (await client.get(f"{url}/auth/sso/providers")).status_code == 200

        deadline = time.monotonic() + 30
        names: list[tuple[str, str]] = []
        while ("adx-auth", "GET /auth/sso/providers") not in names:
            assert time.monotonic() < deadline, names
            try:
                path, content_type, body = await asyncio.to_thread(received.get, True, 1.0)
            except queue.Empty:
                continue
            assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
            for resource_spans in ExportTraceServiceRequest.FromString(body).resource_spans:
                service = next(
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                )
                names += [(service, s.name) for ss in resource_spans.scope_spans for s in ss.spans]
    finally:
        auth.stop()
        collector.shutdown()
