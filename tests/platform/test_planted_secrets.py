"""Planted secrets: a whole account journey over real processes, then a search for every secret
it used in everything the platform kept — log files, exported traces, workflow histories (raw
and decoded through the payload codec), Redis keys and values, and mails. Only the one mail that
must carry a link token may hold that token.

The stack is this module's own (its own data directory, task-queue prefix, Redis prefix and a
trace file), so everything it finds was written by this journey or by nothing."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from redis.asyncio import Redis
from temporalio.client import Client

from services.common.settings import Settings
from services.common.temporal import connect_temporal
from tests.auth.history_search import history_texts
from tests.auth.mail_flows import link_token, plain_text, wait_for_outbox
from tests.graphql_client import gql
from tests.support import RUN_ID, Infra, Stack, start_stack

SIGN_UP = "mutation($input: SignUpInput!) { signUp(input: $input) { id accessToken } }"
VERIFY = "mutation($token: String!) { verifyEmail(token: $token) }"
VERIFY_WITH = (
    "mutation($token: String!, $password: String) "
    "{ verifyEmail(token: $token, password: $password) }"
)
LOGIN = """mutation($input: LoginInput!) { login(input: $input) {
  mfaRequired mfaToken tokens { accessToken refreshToken } } }"""
REFRESH = """mutation($t: String!) { refreshSession(refreshToken: $t) {
  accessToken refreshToken } }"""
REQUEST_RESET = "mutation($e: String!) { requestPasswordReset(email: $e) }"
CONFIRM_RESET = """mutation($t: String!, $p: String!) {
  confirmPasswordReset(token: $t, newPassword: $p) }"""
START_MFA = "mutation { startMfaSetup { workflowId secret otpauthUri } }"
ACTIVATE_MFA = "mutation($c: String!) { activateMfa(code: $c) { enabled recoveryCodes } }"
VERIFY_MFA = """mutation($t: String!, $f: SecondFactorInput!) {
  verifyMfa(mfaToken: $t, factor: $f) { accessToken refreshToken } }"""
REGENERATE = "mutation($c: String!) { regenerateRecoveryCodes(code: $c) { recoveryCodes } }"


@dataclass
class Planted:
    """Every secret the journey handled, by what it is; ``link_tokens`` may appear in their own
    mail (and only there)."""

    secrets: dict[str, str] = field(default_factory=dict)
    link_tokens: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, value: str) -> str:
        assert value and len(value) >= 8, f"{name} is too short to search for: {value!r}"
        self.secrets[name] = value
        return value

    def link(self, name: str, value: str) -> str:
        self.link_tokens[name] = self.add(name, value)
        return value

    def found_in(self, text: str) -> list[str]:
        return [name for name, value in self.secrets.items() if value in text]


def _password(label: str) -> str:
    return f"planted-{label}-{secrets.token_hex(8)}"


@pytest.fixture(scope="module")
def planted_stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("planted")
    env = {
        **infra.env,
        "ADX_DATA_DIR": str(root / "data"),
        "ADX_TASK_QUEUE_PREFIX": f"ps{RUN_ID}",
        "ADX_REDIS_PREFIX": f"adxplanted-{RUN_ID}",
        "ADX_OTEL_EXPORTER": "file",
        "ADX_OTEL_FILE": str(root / "traces.jsonl"),
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "ADX_LOG_LEVEL": "DEBUG",  # the most a process ever writes
    }
    running = start_stack(env, root / "logs")
    yield running
    for proc in running.processes.values():
        proc.stop()


def _settings(stack: Stack) -> Settings:
    return Settings(data_dir=Path(stack.env["ADX_DATA_DIR"]))


async def _raw_post(stack: Stack, content: bytes, token: str | None = None) -> int:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(stack.graphql, content=content, headers=headers)
    return response.status_code


async def _journey(stack: Stack, planted: Planted) -> None:
    """Sign-up, a second sign-up of the taken address, wrong and right logins, refresh and its
    reuse, password reset, MFA set-up and both second factors, recovery-code renewal, and
    malformed requests that carry secrets."""
    settings = _settings(stack)
    address = f"planted-{uuid.uuid4().hex[:10]}@example.com"
    first = planted.add("first password", _password("first"))
    started = await gql(
        stack.graphql,
        SIGN_UP,
        {"input": {"email": address, "password": first, "displayName": "Planted"}},
    )
    assert "errors" not in started, started
    planted.add("run access token", started["data"]["signUp"]["accessToken"])
    mail = (await wait_for_outbox(settings, address))[-1]
    verify_token = planted.link("verification token", link_token(plain_text(mail), "/verify-email"))
    assert await gql(stack.graphql, VERIFY, {"token": verify_token}) == {
        "data": {"verifyEmail": True}
    }

    second = planted.add("second sign-up password", _password("second"))
    again = await gql(
        stack.graphql,
        SIGN_UP,
        {"input": {"email": address, "password": second, "displayName": "Planted again"}},
    )
    assert "errors" not in again, again
    planted.add("second run access token", again["data"]["signUp"]["accessToken"])
    await wait_for_outbox(settings, address, count=2)  # the "someone tried" notice

    # A contested address (two sign-ups waiting): the click carries the sign-up's password.
    contested = f"planted-{uuid.uuid4().hex[:10]}@example.com"
    runs: dict[str, str] = {}
    for label in ("contested first", "contested second"):
        password = planted.add(f"{label} password", _password(label.replace(" ", "-")))
        signed_up = await gql(
            stack.graphql,
            SIGN_UP,
            {"input": {"email": contested, "password": password, "displayName": "Contested"}},
        )
        assert "errors" not in signed_up, signed_up
        planted.add(f"{label} run access token", signed_up["data"]["signUp"]["accessToken"])
        runs[signed_up["data"]["signUp"]["id"]] = password
    contested_mails = await wait_for_outbox(settings, contested, count=2)
    tokens = [link_token(plain_text(m), "/verify-email") for m in contested_mails]
    [(first_run, first_password), (_, second_password)] = runs.items()
    stem = first_run.removeprefix("user-registration-").replace("-", "")
    [first_link] = [t for t in tokens if t.startswith(stem)]
    planted.link("contested verification token", first_link)
    [second_link] = [t for t in tokens if t != first_link]
    planted.link("other contested verification token", second_link)
    refused = await gql(
        stack.graphql, VERIFY_WITH, {"token": first_link, "password": second_password}
    )
    assert refused["errors"][0]["extensions"]["code"] == "PASSWORD_MISMATCH", refused
    assert await gql(
        stack.graphql, VERIFY_WITH, {"token": first_link, "password": first_password}
    ) == {"data": {"verifyEmail": True}}

    wrong = planted.add("wrong password", _password("wrong"))
    refused = await gql(stack.graphql, LOGIN, {"input": {"email": address, "password": wrong}})
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", refused
    tokens = (await gql(stack.graphql, LOGIN, {"input": {"email": address, "password": first}}))[
        "data"
    ]["login"]["tokens"]
    planted.add("access token", tokens["accessToken"])
    old_refresh = planted.add("refresh token", tokens["refreshToken"])
    rotated = (await gql(stack.graphql, REFRESH, {"t": old_refresh}))["data"]["refreshSession"]
    planted.add("rotated access token", rotated["accessToken"])
    planted.add("rotated refresh token", rotated["refreshToken"])
    await gql(stack.graphql, REFRESH, {"t": old_refresh})  # a reuse (answered either way)

    assert (await gql(stack.graphql, REQUEST_RESET, {"e": address}))["data"] == {
        "requestPasswordReset": True
    }
    mails = await wait_for_outbox(settings, address, count=3)
    reset_token = planted.link("reset token", link_token(plain_text(mails[-1]), "/reset-password"))
    new_password = planted.add("new password", _password("new"))
    confirmed = await gql(stack.graphql, CONFIRM_RESET, {"t": reset_token, "p": new_password})
    assert confirmed == {"data": {"confirmPasswordReset": True}}, confirmed

    login = await gql(stack.graphql, LOGIN, {"input": {"email": address, "password": new_password}})
    access = planted.add("post-reset access token", login["data"]["login"]["tokens"]["accessToken"])
    planted.add("post-reset refresh token", login["data"]["login"]["tokens"]["refreshToken"])
    setup = (await gql(stack.graphql, START_MFA, token=access))["data"]["startMfaSetup"]
    totp = pyotp.TOTP(planted.add("TOTP secret", setup["secret"]))
    activated = await gql(stack.graphql, ACTIVATE_MFA, {"c": totp.now()}, token=access)
    codes = activated["data"]["activateMfa"]["recoveryCodes"]
    for index, code in enumerate(codes):
        planted.add(f"recovery code {index}", code)

    partial = (
        await gql(stack.graphql, LOGIN, {"input": {"email": address, "password": new_password}})
    )["data"]["login"]
    mfa_token = planted.add("MFA token", partial["mfaToken"])
    finished = await gql(
        stack.graphql, VERIFY_MFA, {"t": mfa_token, "f": {"recoveryCode": codes[0]}}
    )
    assert "errors" not in finished, finished
    mfa_access = planted.add("MFA access token", finished["data"]["verifyMfa"]["accessToken"])
    planted.add("MFA refresh token", finished["data"]["verifyMfa"]["refreshToken"])
    # The next time step's code (within the allowed drift): activation spent the current one.
    next_code = totp.at(time.time() + totp.interval)
    renewed = await gql(stack.graphql, REGENERATE, {"c": next_code}, token=mfa_access)
    assert "errors" not in renewed, renewed
    for index, code in enumerate(renewed["data"]["regenerateRecoveryCodes"]["recoveryCodes"]):
        planted.add(f"renewed recovery code {index}", code)
    replayed = await gql(
        stack.graphql, VERIFY_MFA, {"t": mfa_token, "f": {"recoveryCode": codes[1]}}
    )
    assert "errors" in replayed  # a spent partial token

    # Malformed requests that carry secrets: a syntax error, a wrong type, a huge value,
    # invalid UTF-8 and a body that is not an object.
    broken = planted.add("password in a broken query", _password("broken"))
    query = f'mutation {{ login(input: {{email: "{address}", password: "{broken}"}}) {{ mfaRequired'
    assert await _raw_post(stack, json.dumps({"query": query}).encode()) < 500
    typed = planted.add("password with a wrong type", _password("typed"))
    body = {"query": LOGIN, "variables": {"input": {"email": [typed], "password": typed}}}
    assert await _raw_post(stack, json.dumps(body).encode()) < 500
    huge = planted.add("password in a huge value", _password("huge"))
    body = {"query": LOGIN, "variables": {"input": {"email": address, "password": huge * 20000}}}
    assert await _raw_post(stack, json.dumps(body).encode()) < 500
    utf8 = planted.add("password beside invalid UTF-8", _password("utf8"))
    content = b'{"query": "' + LOGIN.replace("\n", " ").encode() + b'", "variables": {"input": '
    content += b'{"email": "\xff\xfe", "password": "' + utf8.encode() + b'"}}}'
    assert await _raw_post(stack, content) < 500
    listed = planted.add("password in a list body", _password("listed"))
    assert await _raw_post(stack, json.dumps([listed]).encode()) < 500
    garbage = planted.add("garbage bearer token", "eyJ" + secrets.token_urlsafe(40))
    me = await gql(stack.graphql, "{ me { userId } }", token=garbage)
    assert me["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- where the platform keeps things --------------------------------------------------------


async def _histories(client: Client, prefix: str) -> AsyncIterator[tuple[str, str, str]]:
    """(workflow id, raw history JSON, decoded payloads) of every run on this stack's queues."""
    async for execution in client.list_workflows(f"TaskQueue STARTS_WITH '{prefix}-'"):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        raw, decoded = await history_texts(client, handle)
        yield execution.id, raw, decoded


async def _redis_dump(redis: Redis, prefix: str) -> list[str]:
    found = []
    async for key in redis.scan_iter(match=f"{prefix}:*", count=500):
        kind = await redis.type(key)
        if kind == "string":
            value: Any = await redis.get(key)
        elif kind == "hash":
            value = await redis.hgetall(key)
        elif kind == "list":
            value = await redis.lrange(key, 0, -1)
        elif kind == "set":
            value = await redis.smembers(key)
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            value = await redis.xrange(key)
        else:
            value = kind
        found.append(f"{key} {value!r}")
    return found


async def test_no_planted_secret_is_kept_anywhere(planted_stack: Stack, infra: Infra) -> None:
    planted = Planted()
    await _journey(planted_stack, planted)
    await asyncio.sleep(1.5)  # spans are exported every 0.1 s; logs are unbuffered
    data_dir = Path(planted_stack.env["ADX_DATA_DIR"])
    leaks: dict[str, list[str]] = {}

    def check(where: str, text: str, allowed: tuple[str, ...] = ()) -> None:
        names = [n for n in planted.found_in(text) if n not in allowed]
        if names:
            leaks.setdefault(where, []).extend(names)

    log_dir = data_dir.parent / "logs"
    logs = sorted(log_dir.glob("*.log"))
    assert logs, "the stack wrote no logs"
    for path in logs:
        check(f"log {path.name}", path.read_text(errors="replace"))
    traces = Path(planted_stack.env["ADX_OTEL_FILE"])
    assert traces.exists() and traces.stat().st_size > 0, "the stack exported no spans"
    check("trace export", traces.read_text(errors="replace"))

    client = await connect_temporal(infra.settings())
    runs = 0
    async for workflow_id, raw, decoded in _histories(
        client, planted_stack.env["ADX_TASK_QUEUE_PREFIX"]
    ):
        runs += 1
        check(f"history {workflow_id} (raw)", raw)
        check(f"history {workflow_id} (decoded)", decoded)
    assert runs >= 4, f"expected sign-ups, a reset and an MFA set-up, found {runs} runs"

    redis = Redis.from_url(infra.env["ADX_REDIS_URL"], decode_responses=True)
    try:
        entries = await _redis_dump(redis, planted_stack.env["ADX_REDIS_PREFIX"])
    finally:
        await redis.aclose()
    assert entries, "the journey left nothing in Redis (sessions deny-list, limits, ...)"
    check("redis", "\n".join(entries))

    outbox = _settings(planted_stack).outbox_dir()
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text = str(message)
        own = tuple(n for n, token in planted.link_tokens.items() if token in text)
        assert len(own) <= 1, f"mail {path.name} carries more than one link token: {own}"
        check(f"mail {path.name}", text, allowed=own)
    assert not leaks, f"planted secrets found: {json.dumps(leaks, indent=2)}"


def test_planted_values_are_distinct_and_searchable() -> None:
    """The search above finds a value only if it is long and unique: guard the planting."""
    planted = Planted()
    values = {planted.add(f"p{i}", _password(str(i))) for i in range(50)}
    assert len(values) == 50
    assert planted.found_in("x" + next(iter(values)) + "y")
    with pytest.raises(AssertionError):
        planted.add("short", "abc")
