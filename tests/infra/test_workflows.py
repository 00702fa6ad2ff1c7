"""The CI and release workflows: actionlint and zizmor (offline) find nothing, and the release does what
`make release-dry-run` says it does, with least privilege, pinned actions and no long-lived AWS keys."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.release import DeployConfig, Version, deploy_plan, kustomization

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
RELEASE = WORKFLOWS / "release.yml"
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def tool(name: str) -> str:
    """The dev dependency's own executable (the venv's), else one on PATH; a locked tool missing is a failure."""
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `uv sync --all-extras` (it is a locked dev dependency)")
    return path


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as a boolean
    return doc


# A workflow with the mistakes both linters exist for: script injection from a PR title, an action input
# that does not exist, a tag-pinned action, a checkout that persists its token, and write-all permissions.
BROKEN = """\
on: pull_request_target
permissions: write-all
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
          no-such-input: true
      - run: echo "${{ github.event.pull_request.title }}"
"""


@pytest.fixture
def broken_repo(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()  # actionlint looks for the repository root
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "broken.yml").write_text(BROKEN)
    return tmp_path


def test_actionlint_finds_nothing_in_our_workflows() -> None:
    result = run(tool("actionlint"), "-no-color", str(CI), str(RELEASE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_fails_on_a_broken_workflow(broken_repo: Path) -> None:
    result = run(tool("actionlint"), "-no-color", cwd=broken_repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "potentially untrusted" in result.stdout
    assert 'input "no-such-input" is not defined' in result.stdout


# Offline, so make test needs no GitHub API; the online audits (impostor commits, SHA vs version comment)
# run in `make security` on CI, where GH_TOKEN is set. Pedantic: also what the regular persona calls noise.
ZIZMOR_ARGS = ("--offline", "--persona", "pedantic", "--no-progress", "--color", "never")


def test_zizmor_offline_finds_nothing_in_our_workflows() -> None:
    result = run(tool("zizmor"), *ZIZMOR_ARGS, str(WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_offline_fails_on_a_broken_workflow(broken_repo: Path) -> None:
    result = run(tool("zizmor"), *ZIZMOR_ARGS, str(broken_repo / ".github"))
    assert result.returncode != 0, result.stdout + result.stderr
    for audit in ("dangerous-triggers", "template-injection", "unpinned-uses", "artipacked", "excessive-permissions"):
        assert audit in result.stdout, f"zizmor missed {audit}:\n{result.stdout}"


def test_only_one_zizmor_finding_is_ignored_and_each_ignore_says_why() -> None:
    lines = [ln for path in (CI, RELEASE) for ln in path.read_text().splitlines() if "zizmor: ignore" in ln]
    assert len(lines) == 1, lines
    text = RELEASE.read_text()
    assert "ignore[self-repository]" in text
    assert 'zizmor\'s preferred "$/" form' in text  # the reason, next to the ignore


@pytest.mark.parametrize("path", [CI, RELEASE], ids=lambda p: p.name)
def test_every_action_is_pinned_by_a_full_commit_sha_with_its_version_noted(path: Path) -> None:
    uses = re.findall(r"uses:\s*(\S+)(.*)$", path.read_text(), flags=re.MULTILINE)
    assert uses
    for ref, rest in uses:
        if ref.startswith("./"):
            continue
        assert SHA_PIN.match(ref), f"{path.name}: {ref} is not pinned by commit SHA"
        assert re.search(r"#\s*v\d+\.\d+\.\d+", rest), f"{path.name}: {ref} has no '# vX.Y.Z' comment"


@pytest.mark.parametrize("path", [CI, RELEASE], ids=lambda p: p.name)
def test_least_privilege_permissions(path: Path) -> None:
    doc = load(path)
    assert doc["permissions"] == {}, "the workflow default must grant nothing"
    for name, job in doc["jobs"].items():
        perms = job.get("permissions")
        assert isinstance(perms, dict), f"{name} must declare its permissions"
        writes = {scope for scope, level in perms.items() if level == "write"}
        allowed = {"tag": {"contents"}, "stack": {"id-token"}, "rollout": {"id-token"}, "bridge-image": {"packages"}}
        assert writes <= allowed.get(name, set()), f"{name} writes {writes}"
        if "id-token" in writes:
            assert job.get("environment") == "production", f"{name} assumes the AWS role outside the environment"


def test_no_long_lived_cloud_keys_anywhere() -> None:
    for path in (CI, RELEASE):
        text = path.read_text()
        for needle in ("aws-access-key-id", "aws-secret-access-key", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert needle not in text, f"{path.name} uses {needle}; use OIDC role-to-assume"
    text = RELEASE.read_text()
    assert text.count("role-to-assume: ${{ vars.AWS_DEPLOY_ROLE_ARN }}") == 2


def test_two_releases_never_race_and_a_deploy_is_never_cancelled() -> None:
    concurrency = load(RELEASE)["concurrency"]
    assert concurrency["cancel-in-progress"] is False
    assert "github.ref" not in concurrency["group"] and "run_id" not in concurrency["group"]


def test_ci_cancels_superseded_pull_request_runs_only() -> None:
    concurrency = load(CI)["concurrency"]
    assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"


def test_ci_runs_the_make_targets_and_gates_the_release() -> None:
    ci, release = load(CI), load(RELEASE)
    runs = [step.get("run") for job in ci["jobs"].values() for step in job["steps"]]
    assert {"make lint", "make test", "make security"} <= set(runs)
    assert {"pull_request", "workflow_call"} <= set(ci["on"])
    assert release["on"]["push"]["branches"] == ["main"]
    assert release["jobs"]["ci"]["uses"] == "./.github/workflows/ci.yml"

    def ancestors(name: str) -> set[str]:
        needs = release["jobs"][name].get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        return set(needs).union(*(ancestors(n) for n in needs)) if needs else set()

    for job in ("tag", "stack", "bridge-image", "rollout", "verify"):
        assert "ci" in ancestors(job), f"{job} can run before CI passed"
    assert {"stack", "rollout"} <= ancestors("verify")
    assert {"stack", "bridge-image"} <= ancestors("rollout")


def test_the_release_workflow_runs_every_step_of_the_dry_run_plan() -> None:
    """make release-dry-run prints deploy_plan(); this is what keeps that plan honest."""
    text = RELEASE.read_text()
    plan = deploy_plan(Version(1, 2, 3), DeployConfig())
    assert len(plan) == 8
    for step, evidence in zip(
        plan,
        [
            'uv version "$VERSION"',
            'gh release create "$TAG"',
            "sam build",
            'sam deploy --config-env "$SAM_CONFIG_ENV"',
            "file: functions/bridge/Dockerfile",
            "kubectl apply -k .release/overlay",
            'kubectl rollout status "deployment/${BRIDGE_DEPLOYMENT}" -n "$K8S_NAMESPACE" --timeout=300s',
            '"${API_URL%/}/health"',
        ],
        strict=True,
    ):
        assert evidence in text, f"plan step {step!r} is not in release.yml (looked for {evidence!r})"
    assert "${{ env.REPOSITORY }}:${{ env.VERSION }}" in text and "${{ env.REPOSITORY }}:latest" in text
    assert "python3 -m tools.release next" in text and "fetch-depth: 0" in text  # tags come from git history


def test_release_jobs_use_the_deploy_names_tools_release_resolves() -> None:
    outputs = load(RELEASE)["jobs"]["version"]["outputs"]
    for name in DeployConfig.__dataclass_fields__:
        if name != "bridge_image_name":  # used by the kustomization step straight from vars
            assert outputs[name] == f"${{{{ steps.config.outputs.{name} }}}}"
    env = load(RELEASE)["jobs"]["version"]["steps"][-1]["env"]
    assert set(env) == {name.upper() for name in DeployConfig.__dataclass_fields__}


KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl (for `kubectl kustomize`) is not on PATH")


@needs_kubectl
def test_release_overlay_pins_the_bridge_image_to_the_release(tmp_path: Path) -> None:
    prod = tmp_path / "infra" / "k8s" / "overlays" / "prod"
    prod.mkdir(parents=True)
    (prod / "kustomization.yaml").write_text("resources:\n  - deployment.yaml\n")
    (prod / "deployment.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: petrosa-bridge}\nspec:\n"
        "  selector: {matchLabels: {app: bridge}}\n  template:\n    metadata: {labels: {app: bridge}}\n"
        "    spec: {containers: [{name: bridge, image: petrosa-bridge}]}\n"
    )
    overlay = tmp_path / ".release" / "overlay"
    overlay.mkdir(parents=True)
    config = DeployConfig.from_env({"GITHUB_REPOSITORY_OWNER": "Fork"})
    (overlay / "kustomization.yaml").write_text(
        kustomization(
            "../../infra/k8s/overlays/prod", config.bridge_image_name, config.bridge_image_repository, Version(1, 1, 22)
        )
    )
    result = run(str(KUBECTL), "kustomize", str(overlay))
    assert result.returncode == 0, result.stderr
    assert "image: ghcr.io/fork/petrosa-bridge:1.1.22" in result.stdout


@needs_kubectl
def test_the_real_prod_overlay_takes_the_release_image(tmp_path: Path) -> None:
    prod = ROOT / DeployConfig().k8s_overlay
    assert (prod / "kustomization.yaml").exists(), f"the release applies {prod.relative_to(ROOT)}: it must exist"
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    config = DeployConfig()
    (overlay / "kustomization.yaml").write_text(
        kustomization(
            os.path.relpath(prod, overlay), config.bridge_image_name, "ghcr.io/test/petrosa-bridge", Version(9, 9, 9)
        )
    )
    result = run(str(KUBECTL), "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(overlay))
    assert result.returncode == 0, result.stderr
    assert "image: ghcr.io/test/petrosa-bridge:9.9.9" in result.stdout, (
        f"no container image named {config.bridge_image_name!r} in the prod overlay: the release could not pin it"
    )
    assert f"name: {config.bridge_deployment}" in result.stdout


def test_samconfig_has_the_env_and_stack_the_release_deploys() -> None:
    import tomllib

    samconfig = ROOT / "samconfig.toml"
    assert samconfig.exists(), "the release runs sam deploy --config-env: samconfig.toml must exist"
    config = DeployConfig()
    params = tomllib.loads(samconfig.read_text())[config.sam_config_env]["deploy"]["parameters"]
    assert params["stack_name"] == config.stack_name
