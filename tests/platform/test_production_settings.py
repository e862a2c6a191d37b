"""Production and staging refuse the development fallbacks: a process missing a secret stops at
start (exit 2, naming it) instead of generating its own key, and secrets may come from files in
a secrets directory (Kubernetes Secret volumes, compose ``secrets:``) as well as variables."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from gateway.graphiql import ASSETS_DIR, GRAPHIQL_ASSETS_PATH
from gateway.run_access import RunAccess
from gateway.service_clients import ServiceClients
from services.auth.signing_keys import KeyRing, generate_key
from services.common.codec import PayloadKeys
from services.common.dev_secrets import MissingSecretError
from services.common.resources import Resources
from services.common.sealing import sealer_for
from services.common.settings import ServiceName, Settings
from services.devstack.ports import free_port
from tests.gateway.gateway_app import gateway_app, gateway_client
from tests.service_runs import run_service


def real_secrets() -> dict[str, str]:
    return {
        "ADX_PAYLOAD_KEYS": json.dumps(
            [{"kid": "p-1", "key": base64.b64encode(os.urandom(32)).decode()}]
        ),
        "ADX_AUTH_SIGNING_KEYS": json.dumps([generate_key().to_json()]),
        "ADX_SEAL_KEYS": json.dumps(
            [{"kid": "s-1", "key": base64.b64encode(os.urandom(32)).decode()}]
        ),
        "ADX_RUN_ACCESS_SECRET": base64.b64encode(os.urandom(32)).decode(),
        "ADX_DATABASE_APP_PASSWORD": base64.b64encode(os.urandom(24)).decode(),
    }


def unreachable_temporal() -> dict[str, str]:
    """Start-up passes the settings checks, then stops at Temporal within seconds."""
    return {
        "ADX_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "ADX_TEMPORAL_CONNECT_ATTEMPTS": "1",
    }


def reached_temporal(result: Any) -> bool:
    """Past every settings check: the process went on to connect to Temporal. (The exit status
    is then 3, or occasionally an abort from the Temporal SDK's threads at interpreter exit.)"""
    return result.returncode != 2 and "cannot reach Temporal" in result.stderr


def production(data_dir: Path, env: str = "production", **extra: str) -> dict[str, str]:
    # Empty values override any secret the test session's own environment might carry.
    blank = dict.fromkeys(
        (
            "ADX_PAYLOAD_KEYS",
            "ADX_AUTH_SIGNING_KEYS",
            "ADX_SEAL_KEYS",
            "ADX_RUN_ACCESS_SECRET",
            "ADX_DATABASE_APP_PASSWORD",
            "ADX_MAIL_BACKEND",
            "ADX_BILLING_PROVIDER",
        ),
        "",
    )
    return {**blank, "ADX_ENV": env, "ADX_DATA_DIR": str(data_dir), **extra}


def without_blanks(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if v != ""}


def run(env: dict[str, str], module: str, *args: str) -> Any:
    """``run_service`` with the blank placeholders removed from the child's environment."""
    blanks = [k for k, v in env.items() if v == ""]
    saved = {k: os.environ.pop(k) for k in blanks if k in os.environ}
    try:
        return run_service(without_blanks(env), module, *args)
    finally:
        os.environ.update(saved)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ADX_ variable of the test session (conftest sets payload keys, for one) leaks in."""
    for name in [n for n in os.environ if n.startswith("ADX_")]:
        monkeypatch.delenv(name)
    return monkeypatch


# --- the process refuses to start -------------------------------------------------------------


@pytest.mark.parametrize("env", ["production", "staging"])
def test_gateway_without_its_secrets_stops_naming_them(env: str, tmp_path: Path) -> None:
    result = run(production(tmp_path, env), "gateway")

    assert result.returncode == 2, result.stderr
    assert "ADX_PAYLOAD_KEYS" in result.stderr and "ADX_RUN_ACCESS_SECRET" in result.stderr
    assert "ADX_AUTH_SIGNING_KEYS" not in result.stderr  # the gateway does not sign tokens
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "keys").exists()  # nothing generated


def test_auth_without_signing_keys_or_mail_backend_stops_naming_them(tmp_path: Path) -> None:
    secrets = real_secrets()
    result = run(
        production(tmp_path, ADX_PAYLOAD_KEYS=secrets["ADX_PAYLOAD_KEYS"]), "services.auth"
    )

    assert result.returncode == 2, result.stderr
    assert "ADX_AUTH_SIGNING_KEYS" in result.stderr and "ADX_MAIL_BACKEND" in result.stderr
    assert "ADX_DATABASE_APP_PASSWORD" in result.stderr  # the development default
    assert "ADX_PAYLOAD_KEYS" not in result.stderr and "ADX_RUN_ACCESS_SECRET" not in result.stderr
    assert not (tmp_path / "keys").exists()


def test_tenant_without_a_chosen_billing_provider_stops_naming_it(tmp_path: Path) -> None:
    """The local provider charges nobody: production must choose it (or Stripe) explicitly."""
    secrets = real_secrets()
    base = {"ADX_PAYLOAD_KEYS": secrets["ADX_PAYLOAD_KEYS"], "ADX_MAIL_BACKEND": "smtp"}
    unset = run(production(tmp_path, **base), "services.tenant")
    chosen = run(production(tmp_path, **base, ADX_BILLING_PROVIDER="local"), "services.tenant")

    assert unset.returncode == 2, unset.stderr
    assert "ADX_BILLING_PROVIDER" in unset.stderr and "Traceback" not in unset.stderr
    assert "ADX_BILLING_PROVIDER" not in chosen.stderr


def test_migrate_refuses_to_give_the_app_role_the_development_password(tmp_path: Path) -> None:
    """``adx migrate`` sets the application role's password: never the public default in
    production (the services would refuse it anyway, after the database already had it)."""
    result = run(production(tmp_path), "services.cli", "migrate")

    assert result.returncode == 2, result.stderr
    assert "ADX_DATABASE_APP_PASSWORD" in result.stderr
    assert "schema_migrated" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_auth_with_its_secrets_starts_and_warns_about_an_explicit_outbox(tmp_path: Path) -> None:
    secrets = real_secrets()
    env = production(tmp_path, **secrets, ADX_MAIL_BACKEND="outbox", **unreachable_temporal())
    result = run(env, "services.auth")

    assert reached_temporal(result), result.stderr
    assert "mail_outbox_in_production" in result.stderr and "never delivered" in result.stderr
    assert not (tmp_path / "keys").exists()


def test_auth_with_smtp_starts_without_the_outbox_warning(tmp_path: Path) -> None:
    env = production(tmp_path, **real_secrets(), ADX_MAIL_BACKEND="smtp", **unreachable_temporal())
    result = run(env, "services.auth")

    assert reached_temporal(result), result.stderr
    assert "mail_outbox_in_production" not in result.stderr


# --- every fallback refuses on its own (CLI tools and other entry points) ----------------------

FALLBACKS: list[tuple[str, Callable[[Settings], object]]] = [
    ("ADX_PAYLOAD_KEYS", PayloadKeys.from_settings),
    ("ADX_AUTH_SIGNING_KEYS", KeyRing.from_settings),
    ("ADX_RUN_ACCESS_SECRET", RunAccess.from_settings),
    ("ADX_SEAL_KEYS", sealer_for),
]


@pytest.mark.parametrize(("setting", "load"), FALLBACKS)
@pytest.mark.usefixtures("clean_env")
def test_a_fallback_refuses_in_production(
    setting: str, load: Callable[[Settings], object], tmp_path: Path
) -> None:
    with pytest.raises(MissingSecretError, match=setting):
        load(Settings(_env_file=None, env="production", data_dir=tmp_path))  # type: ignore[call-arg]
    assert not (tmp_path / "keys").exists()


@pytest.mark.parametrize(("setting", "load"), FALLBACKS)
@pytest.mark.usefixtures("clean_env")
def test_development_and_test_still_generate_shared_keys(
    setting: str, load: Callable[[Settings], object], tmp_path: Path
) -> None:
    for env in ("development", "test"):
        load(Settings(_env_file=None, env=env, data_dir=tmp_path))  # type: ignore[call-arg]
    assert len(list((tmp_path / "keys").iterdir())) == 1  # generated once, then reused


# --- secrets from files -------------------------------------------------------------------------


def write_secret_files(directory: Path, secrets: dict[str, str]) -> None:
    directory.mkdir(exist_ok=True)
    for name, value in secrets.items():
        (directory / name).write_text(value + "\n")  # compose secret files often end in one


def test_secrets_are_read_from_the_secrets_dir(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secrets = real_secrets()
    write_secret_files(tmp_path / "secrets", secrets)
    clean_env.setenv("ADX_SECRETS_DIR", str(tmp_path / "secrets"))

    settings = Settings(_env_file=None, env="production", data_dir=tmp_path)  # type: ignore[call-arg]

    assert settings.payload_keys is not None and settings.run_access_secret is not None
    assert settings.payload_keys.get_secret_value() == secrets["ADX_PAYLOAD_KEYS"]
    assert settings.run_access_secret.get_secret_value() == secrets["ADX_RUN_ACCESS_SECRET"]
    assert settings.production_problems(ServiceName.gateway) == {}
    assert PayloadKeys.from_settings(settings).active == "p-1"
    KeyRing.from_settings(settings)  # a real Ed25519 key from the file
    assert not (tmp_path / "keys").exists()


def test_a_variable_wins_over_a_secret_file(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write_secret_files(tmp_path / "secrets", {"ADX_RUN_ACCESS_SECRET": "from-file"})
    clean_env.setenv("ADX_SECRETS_DIR", str(tmp_path / "secrets"))
    clean_env.setenv("ADX_RUN_ACCESS_SECRET", "from-variable")

    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert settings.run_access_secret is not None
    assert settings.run_access_secret.get_secret_value() == "from-variable"


def test_a_missing_secrets_dir_is_refused(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("ADX_SECRETS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ValidationError, match="secrets_dir"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_a_production_gateway_starts_with_secrets_only_in_files(tmp_path: Path) -> None:
    write_secret_files(tmp_path / "secrets", real_secrets())
    env = production(tmp_path, ADX_SECRETS_DIR=str(tmp_path / "secrets"), **unreachable_temporal())
    result = run(env, "gateway")

    assert reached_temporal(result), result.stderr
    assert not (tmp_path / "keys").exists()


# --- per-service URLs ---------------------------------------------------------------------------


async def test_service_urls_override_the_shared_host() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        service_host="unused.invalid",
        auth_service_url="http://adx-auth.adx.svc:8081/",
        user_service_url="https://users.internal",
    )
    clients = ServiceClients(settings)
    try:
        assert [i.base_url for i in clients.auth.pool.instances] == ["http://adx-auth.adx.svc:8081"]
        assert [i.base_url for i in clients.user.pool.instances] == ["https://users.internal"]
    finally:
        await clients.aclose()
    assert settings.service_url(ServiceName.file) == "http://unused.invalid:8083"


@pytest.mark.parametrize("value", ["adx-auth:8081", "ftp://adx-auth", "http://a b", "http://x?q=1"])
def test_a_service_url_that_is_no_http_url_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="auth_service_url"):
        Settings(_env_file=None, auth_service_url=value)  # type: ignore[call-arg]


# --- GraphQL introspection, suggestions and GraphiQL (issue 6, finding 9) ----------------------

INTROSPECTION = "{ __schema { queryType { name } } }"
TYPO = "{ mee { userId } }"  # graphql-core would suggest "me"


def production_gateway(resources: Resources, **switches: object) -> FastAPI:
    return gateway_app(resources, production=True, **switches)


async def probe(app: FastAPI) -> dict[str, Any]:
    """What a stranger learns: introspection, a suggestion, the GraphiQL page and assets."""
    async with gateway_client(app) as client:
        introspection = await client.post("/graphql", json={"query": INTROSPECTION})
        typo = await client.post("/graphql", json={"query": TYPO})
        page = await client.get("/graphql", headers={"accept": "text/html"})
        asset = await client.get(f"{GRAPHIQL_ASSETS_PATH}/{next(iter(vendored_assets()))}")
        typename = await client.post("/graphql", json={"query": "{ __typename }"})
    assert typename.json() == {"data": {"__typename": "Query"}}  # always answered
    return {
        "introspection": "errors" not in introspection.json(),
        "suggestions": "Did you mean" in typo.text,
        "typo_refused": bool(typo.json().get("errors")),
        "graphiql": page.status_code == 200 and "graphiql" in page.text.lower(),
        "page_status": page.status_code,
        "assets": asset.status_code == 200,
    }


def vendored_assets() -> list[str]:
    return [str(p.relative_to(ASSETS_DIR)) for p in sorted(ASSETS_DIR.rglob("*")) if p.is_file()]


async def test_production_gateway_has_no_introspection_suggestions_or_graphiql(
    gateway_resources: Resources,
) -> None:
    seen = await probe(production_gateway(gateway_resources))

    assert seen["introspection"] is False
    assert seen["suggestions"] is False and seen["typo_refused"] is True
    assert seen["graphiql"] is False and seen["page_status"] == 404
    assert seen["assets"] is False


async def test_development_gateway_has_all_three(gateway_resources: Resources) -> None:
    seen = await probe(gateway_app(gateway_resources, env="development"))

    assert seen == {
        "introspection": True,
        "suggestions": True,
        "typo_refused": True,
        "graphiql": True,
        "page_status": 200,
        "assets": True,
    }


@pytest.mark.parametrize("switch", ["graphql_introspection", "graphql_suggestions", "graphiql"])
async def test_each_switch_works_on_its_own_in_both_directions(
    gateway_resources: Resources, switch: str
) -> None:
    key = {"graphql_introspection": "introspection", "graphql_suggestions": "suggestions"}.get(
        switch, "graphiql"
    )
    on_in_production = await probe(production_gateway(gateway_resources, **{switch: True}))
    off_in_development = await probe(gateway_app(gateway_resources, **{switch: False}))

    assert on_in_production[key] is True
    assert off_in_development[key] is False
    others = {"introspection", "suggestions", "graphiql"} - {key}
    assert not any(on_in_production[k] for k in others)  # production defaults stay off
    assert all(off_in_development[k] for k in others)  # development defaults stay on


def test_the_switches_are_read_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ADX_GRAPHQL_INTROSPECTION", "true")
    clean_env.setenv("ADX_GRAPHQL_SUGGESTIONS", "false")
    clean_env.setenv("ADX_GRAPHIQL", "false")

    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert (settings.graphql_introspection, settings.graphql_suggestions, settings.graphiql) == (
        True,
        False,
        False,
    )
