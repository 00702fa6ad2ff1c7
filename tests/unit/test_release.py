"""Release versioning: the next version from git tags, release notes, the one place the version lives."""

from __future__ import annotations

import io
import json
import sys

import pytest

from tools import release
from tools.release import DeployConfig, Version, deploy_plan, next_version, set_project_version


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["v1.1.21"], "v1.1.22"),
        ([], "v0.1.0"),  # first release
        (["latest", "nightly", "release-7"], "v0.1.0"),  # nothing that is a version
        (["v1.1.9", "v1.1.10", "v1.1.2"], "v1.1.11"),  # numeric, not lexical, order
        (["v1.2.0", "v1.10.0", "v1.9.99"], "v1.10.1"),
        (["v2.0.0", "v1.99.99"], "v2.0.1"),
        (["v1.1.21", "v9.0.0-rc1", "1.5.0", "v1.2", "v01.2.3", "bridge-v3.0.0", "v1.3.0.1"], "v1.1.22"),
        (["  v0.3.4  \n"], "v0.3.5"),  # git output lines
    ],
)
def test_next_version_bumps_the_patch_of_the_latest_version_tag(tags: list[str], expected: str) -> None:
    assert next_version(tags).tag == expected


def test_version_shows_without_v_where_the_package_reports_it() -> None:
    assert str(Version(1, 1, 22)) == "1.1.22"


def test_set_project_version_rewrites_only_the_project_table() -> None:
    text = (
        '[build-system]\nrequires = ["x"]\n\n[project]\nname = "p"\nversion = "0.1.0"\n\n'
        '[tool.other]\nversion = "9.9.9"\n'
    )
    out = set_project_version(text, Version(1, 2, 3))
    assert 'version = "1.2.3"' in out
    assert 'version = "9.9.9"' in out
    assert out.replace('version = "1.2.3"', 'version = "0.1.0"') == text


def test_set_project_version_refuses_a_pyproject_without_a_project_version() -> None:
    with pytest.raises(ValueError, match="version"):
        set_project_version('[project]\nname = "p"\n', Version(1, 0, 0))


def test_release_notes_list_the_commits_since_the_previous_tag() -> None:
    notes = release.release_notes(Version(1, 1, 22), Version(1, 1, 21), ["fix sizing (abc123)", "", "add DLQ"])
    assert notes.startswith("## v1.1.22 (since v1.1.21)")
    assert "- fix sizing (abc123)\n- add DLQ\n" in notes


def test_deploy_plan_names_every_stage_with_the_version() -> None:
    config = DeployConfig.from_env({"GITHUB_REPOSITORY_OWNER": "Some-Fork", "SAM_CONFIG_ENV": "staging"})
    plan = "\n".join(deploy_plan(Version(1, 1, 22), config))
    assert "sam deploy --config-env staging" in plan
    assert "ghcr.io/some-fork/petrosa-bridge:1.1.22" in plan  # image references must be lower case
    assert "ghcr.io/some-fork/petrosa-bridge:latest" in plan
    assert "kubectl apply -k infra/k8s/overlays/prod" in plan
    assert "rollout status deployment/petrosa-bridge" in plan
    assert "/health must answer 200 with version 1.1.22" in plan


def test_empty_github_variables_fall_back_to_the_defaults() -> None:
    # vars.X is an empty string when a fork has not set it.
    assert DeployConfig.from_env({"STACK_NAME": "", "K8S_NAMESPACE": ""}) == DeployConfig()


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        (json.dumps({"status": "ok", "version": "1.1.22"}), True),
        (json.dumps({"status": "ok", "version": "1.1.21"}), False),  # the old release still answering
        (json.dumps({"status": "ok", "version": "0.0.0"}), False),  # package metadata missing in the layer
        ("<html>502 Bad Gateway</html>", False),
        ("[]", False),
    ],
)
def test_health_check_accepts_only_the_new_version(body: str, ok: bool) -> None:
    assert release.health_reports(body, Version(1, 1, 22)) is ok


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], stdin: str):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = release.main(args)
    return code, capsys.readouterr().out


def test_cli_plan_prints_the_next_version_and_touches_nothing(monkeypatch, capsys, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SAM_CONFIG_ENV", raising=False)
    code, out = run_cli(monkeypatch, capsys, ["plan"], "v1.1.20\nv1.1.21\nnot-a-version\n")
    assert code == 0
    assert out.startswith("next version: v1.1.22 (latest tag: v1.1.21)")
    assert "sam deploy --config-env prod" in out
    assert list(tmp_path.iterdir()) == []


def test_cli_next_write_sets_the_project_version(monkeypatch, capsys, tmp_path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "p"\nversion = "0.1.0"\n')
    code, out = run_cli(monkeypatch, capsys, ["next", "--write", str(pyproject)], "v0.4.1\n")
    assert (code, out) == (0, "v0.4.2\n")
    assert 'version = "0.4.2"' in pyproject.read_text()


def test_cli_check_health_fails_on_a_wrong_version(monkeypatch, capsys) -> None:
    body = json.dumps({"version": "1.0.0"})
    assert run_cli(monkeypatch, capsys, ["check-health", "--version", "1.0.1"], body)[0] == 1
    assert run_cli(monkeypatch, capsys, ["check-health", "--version", "1.0.0"], body)[0] == 0


def test_cli_rejects_a_version_that_is_not_major_minor_patch(monkeypatch, capsys) -> None:
    with pytest.raises(SystemExit, match=r"not a MAJOR\.MINOR\.PATCH"):
        run_cli(monkeypatch, capsys, ["notes", "--version", "1.2"], "")


def test_the_version_lives_in_pyproject_and_is_what_tradeengine_reports() -> None:
    import tomllib
    from pathlib import Path

    import tradeengine

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert tradeengine.__version__ == pyproject["project"]["version"]
