"""GitOps manifests (deploy/k8s/overlays, deploy/argocd; docs/deploy.md "GitOps"): the overlays
render with kustomize, every Kubernetes object is valid for the target release, every Argo
object is valid against its CRD's schema, and one service's version changes only that service.

kustomize is the binary or kubectl's built-in; the Argo schemas come from the npm packages
@kubernetes-models/argo-cd and @kubernetes-models/argo-rollouts, installed once into
.tools/argo-models/ (skipped, with the reason, only when kubectl/kustomize or npm is absent).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from services.common.settings import Settings
from services.devstack.catalog import PLATFORM_SERVICES
from tests.support import ROOT

K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAYS = ("staging", "production")
ARGOCD = ROOT / "deploy" / "argocd"
KUBERNETES_VERSION = "1.33.0"
ARGO_PACKAGES = ("@kubernetes-models/argo-cd@4.0.0", "@kubernetes-models/argo-rollouts@2.0.0")
ARGO_MODELS = ROOT / ".tools" / "argo-models"
VALIDATOR = Path(__file__).with_name("validate_argo.mjs")
#: The processes that carry a Temporal worker roll out blue-green; the gateway has none.
WORKER_SERVICES = [s.name for s in PLATFORM_SERVICES if s.name != "gateway"]

Object = dict[str, Any]


# --- rendering ------------------------------------------------------------------------------


def kustomize_command() -> list[str]:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    pytest.skip("neither kustomize nor kubectl (with its built-in kustomize) is installed")


def render(path: Path) -> list[Object]:
    result = subprocess.run(
        [*kustomize_command(), str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


@cache
def rendered(overlay: str) -> tuple[Object, ...]:
    return tuple(render(K8S / "overlays" / overlay))


def by_kind(objects: tuple[Object, ...] | list[Object], kind: str) -> dict[str, Object]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def container(workload: Object) -> Object:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return only  # type: ignore[no-any-return]


def env_value(workload: Object, name: str) -> str | None:
    for item in container(workload).get("env", []):
        if item["name"] == name:
            return item.get("value")  # type: ignore[no-any-return]
    return None


def base_objects(kind: str) -> dict[str, Object]:
    found = {}
    for path in BASE.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == kind:
                found[doc["metadata"]["name"]] = doc
    return found


def argocd_objects() -> list[Object]:
    return [
        d for p in sorted(ARGOCD.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d
    ]


# --- Argo schemas (npm) ---------------------------------------------------------------------


@cache
def argo_models() -> Path:
    """The npm packages' directory (installed on first use, atomically renamed into place)."""
    if (ARGO_MODELS / "node_modules" / "@kubernetes-models" / "argo-rollouts").is_dir():
        return ARGO_MODELS
    if not (shutil.which("npm") and shutil.which("node")):
        pytest.skip("npm/node not installed: the Argo CRD schemas come from npm packages")
    ARGO_MODELS.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="argo-models-", dir=ARGO_MODELS.parent))
    (staging / "package.json").write_text('{"name": "adx-argo-models", "private": true}\n')
    result = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--silent", *ARGO_PACKAGES],
        cwd=staging,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    try:
        staging.rename(ARGO_MODELS)
    except OSError:  # another run installed it meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return ARGO_MODELS


def argo_errors(objects: list[Object]) -> dict[tuple[str, str], str | None]:
    """(kind, name) -> schema errors (None: valid), from validate_argo.mjs."""
    models = argo_models()
    script = models / VALIDATOR.name
    if not script.exists() or script.read_text() != VALIDATOR.read_text():
        script.write_text(VALIDATOR.read_text())
    result = subprocess.run(
        ["node", str(script)],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    assert result.returncode == 0, result.stderr
    return {(r["kind"], r["name"]): r["errors"] for r in json.loads(result.stdout)}


def is_argo(obj: Object) -> bool:
    return str(obj["apiVersion"]).startswith("argoproj.io/")


# --- validity -------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_kubernetes_objects_are_valid(overlay: str) -> None:
    objects = rendered(overlay)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "NetworkPolicy", "Rollout", "AnalysisTemplate"} <= kinds
    for obj in objects:
        if not is_argo(obj):
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "adx", obj["metadata"]["name"]


def test_argo_objects_match_their_crd_schemas() -> None:
    objects = [o for overlay in OVERLAYS for o in rendered(overlay) if is_argo(o)]
    objects += argocd_objects()
    errors = argo_errors(objects)
    kinds = {kind for kind, _ in errors}
    assert kinds == {"Rollout", "AnalysisTemplate", "Application", "AppProject"}
    invalid = {key: error for key, error in errors.items() if error is not None}
    assert not invalid, invalid


def test_argo_schema_check_rejects_broken_objects() -> None:
    rollout = json.loads(json.dumps(by_kind(rendered("production"), "Rollout")["adx-user"]))
    del rollout["spec"]["strategy"]["blueGreen"]["activeService"]
    rollout["metadata"]["name"] = "broken-rollout"
    application = json.loads(json.dumps(by_kind(argocd_objects(), "Application")))
    app = application["adx-core-staging"]
    app["metadata"]["name"] = "broken-application"
    app["spec"]["syncPolicy"]["automated"]["prune"] = "yes"
    template = json.loads(json.dumps(by_kind(rendered("staging"), "AnalysisTemplate")))
    analysis = template["adx-worker-version-drained"]
    analysis["metadata"]["name"] = "broken-template"
    del analysis["spec"]["metrics"][0]["name"]
    errors = argo_errors([rollout, app, analysis])
    assert "activeService" in str(errors[("Rollout", "broken-rollout")])
    assert "prune" in str(errors[("Application", "broken-application")])
    assert "name" in str(errors[("AnalysisTemplate", "broken-template")])


# --- independent deploys --------------------------------------------------------------------


def set_tag(kustomization: Path, image: str, tag: str) -> None:
    """What `kustomize edit set image <image>=<registry>/<image>:<tag>` does to the file."""
    data = yaml.safe_load(kustomization.read_text())
    (entry,) = [i for i in data["images"] if i["name"] == image]
    entry["newTag"] = tag
    kustomization.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_service_deploys_without_touching_the_others(overlay: str, tmp_path: Path) -> None:
    shutil.copytree(K8S, tmp_path / "k8s")
    set_tag(tmp_path / "k8s" / "overlays" / overlay / "kustomization.yaml", "adx-user", "9f3c2ab")
    before = {(o["kind"], o["metadata"]["name"]): o for o in rendered(overlay)}
    after = {
        (o["kind"], o["metadata"]["name"]): o for o in render(tmp_path / "k8s/overlays" / overlay)
    }
    assert before.keys() == after.keys()
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {("Deployment", "adx-user"), ("Rollout", "adx-user")}
    deployment = after[("Deployment", "adx-user")]
    assert container(deployment)["image"] == "registry.example.com/adx-user:9f3c2ab"
    assert env_value(deployment, "ADX_WORKER_BUILD_ID") == "9f3c2ab"
    rollout = after[("Rollout", "adx-user")]
    assert rollout["metadata"]["annotations"]["adx.dev/build-id"] == "9f3c2ab"
    # Nothing else moved: every other workload keeps its image and build id.
    for name in ("adx-auth", "adx-gateway", "adx-tenant"):
        assert (
            container(after[("Deployment", name)])["image"]
            == container(before[("Deployment", name)])["image"]
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_has_its_own_image_entry(overlay: str) -> None:
    kustomization = yaml.safe_load((K8S / "overlays" / overlay / "kustomization.yaml").read_text())
    entries = {i["name"]: i for i in kustomization["images"]}
    assert set(entries) == {f"adx-{s.name}" for s in PLATFORM_SERVICES}
    deployments = by_kind(rendered(overlay), "Deployment")
    for name, entry in entries.items():
        image = container(deployments[name])["image"]
        assert image == f"{entry['newName']}:{entry['newTag']}", name


# --- blue-green rollouts and worker versioning ----------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_worker_services_roll_out_blue_green_on_their_build_id(overlay: str) -> None:
    objects = rendered(overlay)
    deployments = by_kind(objects, "Deployment")
    rollouts = by_kind(objects, "Rollout")
    services = by_kind(objects, "Service")
    templates = by_kind(objects, "AnalysisTemplate")
    base = base_objects("Deployment")
    assert set(rollouts) == {f"adx-{name}" for name in WORKER_SERVICES}
    # The gateway carries no worker: it stays a rolling Deployment.
    assert deployments["adx-gateway"]["spec"]["replicas"] == base["adx-gateway"]["spec"]["replicas"]
    assert env_value(deployments["adx-gateway"], "ADX_WORKER_BUILD_ID") is None
    for name in WORKER_SERVICES:
        full = f"adx-{name}"
        rollout, deployment = rollouts[full], deployments[full]
        spec = rollout["spec"]
        assert spec["workloadRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": full,
            "scaleDown": "never",
        }
        # The Rollout runs the pods (as many as the base asks); the Deployment runs none.
        assert deployment["spec"]["replicas"] == 0
        assert spec["replicas"] == base[full]["spec"]["replicas"]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
        # Build id = image tag, a valid worker build id; promotion is the rollout's job.
        tag = container(deployment)["image"].rsplit(":", 1)[1]
        assert env_value(deployment, "ADX_WORKER_BUILD_ID") == tag
        assert Settings(worker_build_id=tag).worker_build_id == tag
        assert env_value(deployment, "ADX_WORKER_SET_CURRENT") is None
        assert rollout["metadata"]["annotations"]["adx.dev/build-id"] == tag
        blue_green = spec["strategy"]["blueGreen"]
        active, preview = (
            services[blue_green["activeService"]],
            services[blue_green["previewService"]],
        )
        assert active["metadata"]["name"] == full
        for service in (active, preview):
            assert service["spec"]["selector"].items() <= pod_labels.items()
            assert service["spec"]["ports"] == services[full]["spec"]["ports"]
        assert blue_green["abortScaleDownDelaySeconds"] == 0, "an abort keeps pinned runs served"
        # Before promotion the new build id becomes current; after it, the old ones drain.
        # The manifests' queue (the default prefix, adx), not Settings() from this process's
        # environment, which other tests of a session give a prefix of their own.
        worker_deployment = f"adx-{name}"
        for step, template in [
            ("prePromotionAnalysis", "adx-worker-version-current"),
            ("postPromotionAnalysis", "adx-worker-version-drained"),
        ]:
            analysis = blue_green[step]
            assert [t["templateName"] for t in analysis["templates"]] == [template]
            assert template in templates
            args = {a["name"]: a for a in analysis["args"]}
            assert args["deployment-name"]["value"] == worker_deployment
            assert args["build-id"]["valueFrom"]["fieldRef"]["fieldPath"] == (
                "metadata.annotations['adx.dev/build-id']"
            )
    config = by_kind(objects, "ConfigMap")["adx-config"]["data"]
    assert "ADX_WORKER_DEPLOYMENT_NAME" not in config, "deployment name = task queue"
    assert "ADX_WORKER_SET_CURRENT" not in config


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_analysis_jobs_run_the_temporal_cli_locked_down_and_reach_only_temporal(
    overlay: str,
) -> None:
    objects = rendered(overlay)
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    temporal_image = compose["services"]["temporal"]["image"]
    config = by_kind(objects, "ConfigMap")["adx-config"]["data"]
    temporal_port = int(config["ADX_TEMPORAL_ADDRESS"].rsplit(":", 1)[1])
    policy = by_kind(objects, "NetworkPolicy")["adx-worker-versioning"]["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"} and "ingress" not in policy
    assert [p["port"] for r in policy["egress"] for p in r["ports"]] == [temporal_port]
    for template in by_kind(objects, "AnalysisTemplate").values():
        (metric,) = template["spec"]["metrics"]
        job = metric["provider"]["job"]
        pod = job["spec"]["template"]
        assert policy["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        box = container(job)
        assert box["image"] == temporal_image
        assert pod["spec"]["automountServiceAccountToken"] is False
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        assert box["securityContext"]["readOnlyRootFilesystem"] is True
        assert box["securityContext"]["capabilities"]["drop"] == ["ALL"]
        env = {e["name"]: e for e in box["env"]}
        assert env["TEMPORAL_ADDRESS"]["valueFrom"]["configMapKeyRef"]["key"] == (
            "ADX_TEMPORAL_ADDRESS"
        )
        assert env["TEMPORAL_NAMESPACE"]["valueFrom"]["configMapKeyRef"]["key"] == (
            "ADX_TEMPORAL_NAMESPACE"
        )
        assert env["BUILD_ID"]["value"] == "{{args.build-id}}"


def test_staging_is_its_own_environment() -> None:
    staging = by_kind(rendered("staging"), "ConfigMap")["adx-config"]["data"]
    production = by_kind(rendered("production"), "ConfigMap")["adx-config"]["data"]
    assert staging["ADX_ENV"] == "staging" and production["ADX_ENV"] == "production"
    assert staging["ADX_TEMPORAL_NAMESPACE"] != production["ADX_TEMPORAL_NAMESPACE"]
    Settings(env="staging", temporal_namespace=staging["ADX_TEMPORAL_NAMESPACE"])


# --- Argo CD --------------------------------------------------------------------------------


def test_argocd_applications_sync_the_overlays_within_the_project() -> None:
    objects = argocd_objects()
    (project,) = by_kind(objects, "AppProject").values()
    applications = by_kind(objects, "Application")
    assert set(applications) == {f"adx-core-{o}" for o in OVERLAYS}
    allowed = {(k["group"], k["kind"]) for k in project["spec"]["namespaceResourceWhitelist"]}
    allowed |= {(k["group"], k["kind"]) for k in project["spec"]["clusterResourceWhitelist"]}
    destinations = {(d["server"], d["namespace"]) for d in project["spec"]["destinations"]}
    for overlay in OVERLAYS:
        app = applications[f"adx-core-{overlay}"]["spec"]
        assert app["project"] == project["metadata"]["name"]
        assert app["source"]["path"] == f"deploy/k8s/overlays/{overlay}"
        assert (ROOT / app["source"]["path"] / "kustomization.yaml").is_file()
        assert app["source"]["repoURL"] in project["spec"]["sourceRepos"]
        assert (app["destination"]["server"], app["destination"]["namespace"]) in destinations
        for obj in rendered(overlay):
            group = obj["apiVersion"].rpartition("/")[0]
            assert (group, obj["kind"]) in allowed, (overlay, obj["kind"])
    # Staging follows main on its own; production waits for an operator's sync.
    assert applications["adx-core-staging"]["spec"]["syncPolicy"]["automated"]["prune"] is True
    assert "automated" not in applications["adx-core-production"]["spec"]["syncPolicy"]
