"""Release versioning: the next version from git tags, the deploy plan, and the one place the version lives.

Pure by design: the CLI reads tags and commit subjects from stdin (``git tag --list 'v*' | python -m
tools.release next``) instead of running git itself, so the same code runs in the release workflow, in
``make release-dry-run`` and in unit tests, with no subprocess and no dependency beyond the stdlib (the
release workflow calls it with the runner's python before any ``uv sync``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Only plain vMAJOR.MINOR.PATCH tags count: pre-releases ("v1.2.0-rc1"), other prefixes and leading zeros
# are someone else's business and must never move the release line.
_TAG = re.compile(r"^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
_PROJECT_VERSION = re.compile(r'^(version\s*=\s*)"[^"]*"', re.MULTILINE)


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:  # what pyproject.toml, /health and `tradeengine --version` show
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def tag(self) -> str:
        return f"v{self}"

    def next_patch(self) -> Version:
        return Version(self.major, self.minor, self.patch + 1)


FIRST = Version(0, 1, 0)


def parse_tag(tag: str) -> Version | None:
    match = _TAG.match(tag.strip())
    return Version(*(int(part) for part in match.groups())) if match else None


def latest_version(tags: Iterable[str]) -> Version | None:
    versions = [v for v in map(parse_tag, tags) if v is not None]
    return max(versions, default=None)


def next_version(tags: Iterable[str]) -> Version:
    """v1.1.21 -> v1.1.22; no version tag yet -> v0.1.0 (the project's first release)."""
    latest = latest_version(tags)
    return latest.next_patch() if latest else FIRST


def release_notes(version: Version, previous: Version | None, subjects: Iterable[str]) -> str:
    lines = [s.strip() for s in subjects if s.strip()]
    since = f"since {previous.tag}" if previous else "first release"
    body = "\n".join(f"- {line}" for line in lines) or "- no changes recorded"
    return f"## {version.tag} ({since})\n\n{body}\n"


def set_project_version(pyproject: str, version: Version) -> str:
    """Rewrite `version = "..."` in the [project] table only (other tables may have their own `version`)."""
    start = pyproject.find("[project]\n")
    if start < 0:
        raise ValueError("pyproject.toml has no [project] table")
    end = pyproject.find("\n[", start + 1)
    end = len(pyproject) if end < 0 else end + 1
    table, count = _PROJECT_VERSION.subn(rf'\g<1>"{version}"', pyproject[start:end], count=1)
    if count != 1:
        raise ValueError('[project] table has no version = "..." line')
    return pyproject[:start] + table + pyproject[end:]


@dataclass(frozen=True)
class DeployConfig:
    """The deploy names; each field can be set by the GitHub variable (or env var) of its name in upper case.

    The defaults are what docs/RELEASE.md sets up, so a fork only fills in what differs.
    """

    sam_config_env: str = "prod"
    stack_name: str = "petrosa-tradeengine-prod"  # must equal stack_name of that env in samconfig.toml
    bridge_image_repository: str = "ghcr.io/OWNER/petrosa-bridge"
    bridge_image_name: str = "petrosa-bridge"  # the image name the kustomize base gives the bridge container
    k8s_overlay: str = "infra/k8s/overlays/prod"
    k8s_namespace: str = "petrosa"
    bridge_deployment: str = "petrosa-bridge"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DeployConfig:
        values = {name: env.get(name.upper()) or getattr(cls(), name) for name in cls.__dataclass_fields__}
        owner = env.get("GITHUB_REPOSITORY_OWNER", "").lower()  # image references must be lower case
        if owner:
            values["bridge_image_repository"] = values["bridge_image_repository"].replace("OWNER", owner)
        return cls(**values)

    def as_outputs(self) -> str:
        """name=value lines for $GITHUB_OUTPUT, so the workflow and the plan share one set of defaults."""
        return "".join(f"{name}={getattr(self, name)}\n" for name in self.__dataclass_fields__)


def deploy_plan(version: Version, config: DeployConfig) -> list[str]:
    """The steps release.yml runs, in order; tests check the workflow really contains each command."""
    repository = config.bridge_image_repository
    return [
        f"set [project] version = {version} in pyproject.toml",
        f"create tag {version.tag} and a GitHub release with notes from the commits since the last tag",
        "sam build",
        f"sam deploy --config-env {config.sam_config_env} (stack {config.stack_name}, via OIDC role)",
        f"build and push {repository}:{version} and {repository}:latest (functions/bridge/Dockerfile)",
        f"kubectl apply -k {config.k8s_overlay} with image {config.bridge_image_name}={repository}:{version}",
        f"kubectl rollout status deployment/{config.bridge_deployment} -n {config.k8s_namespace} --timeout=300s",
        f"GET <ApiUrl output of {config.stack_name}>/health must answer 200 with version {version}",
    ]


def kustomization(overlay_from_here: str, image_name: str, repository: str, version: Version) -> str:
    """A throwaway overlay that pins the bridge image to this release without editing the prod overlay."""
    return (
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        f"resources:\n  - {overlay_from_here}\n"
        f'images:\n  - name: {image_name}\n    newName: {repository}\n    newTag: "{version}"\n'
    )


def health_reports(body: str, version: Version) -> bool:
    try:
        doc = json.loads(body)
    except json.JSONDecodeError:
        return False
    return isinstance(doc, dict) and doc.get("version") == str(version)


def _lines(stream: Iterable[str]) -> list[str]:
    return [line.strip() for line in stream if line.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.release", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    nxt = sub.add_parser("next", help="print the next version tag; tags come from stdin")
    nxt.add_argument("--write", type=Path, metavar="PYPROJECT", help="also set [project] version in this file")
    sub.add_parser("plan", help="print the next version and the deploy plan; touches nothing")
    notes = sub.add_parser("notes", help="release notes; tags as arguments, commit subjects on stdin")
    notes.add_argument("--version", required=True)
    notes.add_argument("--previous", default="")
    sub.add_parser("latest", help="print the latest version tag (empty if none); tags come from stdin")
    sub.add_parser("config", help="print the deploy names as name=value lines (for $GITHUB_OUTPUT)")
    kust = sub.add_parser("kustomization", help="print an overlay pinning the bridge image to a version")
    kust.add_argument("--version", required=True)
    kust.add_argument("--resource", required=True, help="path of the prod overlay, relative to the new file")
    health = sub.add_parser("check-health", help="exit 0 if the /health body on stdin reports --version")
    health.add_argument("--version", required=True)
    args = parser.parse_args(argv)
    config = DeployConfig.from_env(os.environ)

    if args.command == "next":
        version = next_version(_lines(sys.stdin))
        if args.write:
            args.write.write_text(set_project_version(args.write.read_text(), version))
        print(version.tag)
    elif args.command == "plan":
        tags = _lines(sys.stdin)
        version = next_version(tags)
        latest = latest_version(tags)
        print(f"next version: {version.tag} (latest tag: {latest.tag if latest else 'none'})")
        print("deploy plan (dry run, nothing was changed):")
        for number, step in enumerate(deploy_plan(version, config), start=1):
            print(f"  {number}. {step}")
    elif args.command == "notes":
        print(release_notes(_require(args.version), parse_tag(args.previous), sys.stdin), end="")
    elif args.command == "latest":
        latest = latest_version(_lines(sys.stdin))
        print(latest.tag if latest else "")
    elif args.command == "config":
        print(config.as_outputs(), end="")
    elif args.command == "kustomization":
        version = _require(args.version)
        print(kustomization(args.resource, config.bridge_image_name, config.bridge_image_repository, version), end="")
    elif args.command == "check-health":
        body = sys.stdin.read()
        if not health_reports(body, _require(args.version)):
            print(f"/health does not report version {args.version}: {body[:500]!r}", file=sys.stderr)
            return 1
    return 0


def _require(text: str) -> Version:
    version = parse_tag(text if text.startswith("v") else f"v{text}")
    if version is None:
        raise SystemExit(f"not a MAJOR.MINOR.PATCH version: {text!r}")
    return version


if __name__ == "__main__":
    raise SystemExit(main())
