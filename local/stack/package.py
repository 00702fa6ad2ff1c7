"""``sam build`` + ``sam package`` without Docker: template.yaml's local code paths become zip artifacts.

- a function's ``CodeUri`` directory is zipped as it is (the handler module at the zip's root);
- the layer (``ContentUri: layers/``) is built as ``layers/Makefile`` builds it — ``python/`` holds the
  pinned requirements (``layers/deps/requirements.txt``, else uv.lock's ``runtime`` extra) and the
  project itself (tradeengine + contracts, with its dist-info) — but for *this machine's* Python and
  platform: the Makefile cross-installs arm64/cp312 wheels for AWS, which would not import in the local
  runtime. boto3/botocore are left out, as AWS's Python runtime provides them.

Artifacts are content-addressed (sha256), so an unchanged tree is neither rebuilt nor re-uploaded.
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import subprocess  # nosec B404 - the stack starts its own local servers and build tools
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from local.stack.services import ROOT

RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !GetAtt, !Sub ...) read as their long JSON forms."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path: Path) -> dict[str, Any]:
    data = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 (SafeLoader subclass)
    if not isinstance(data, dict) or "Resources" not in data:
        raise ValueError(f"{path} is not a CloudFormation template")
    return data


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == kind}


def function_property(template: dict[str, Any], logical_id: str, name: str) -> Any:
    """A function's property, falling back to Globals.Function (as SAM does)."""
    props = template["Resources"][logical_id].get("Properties", {})
    if name in props:
        return props[name]
    return template.get("Globals", {}).get("Function", {}).get(name)


@dataclass(frozen=True)
class Artifact:
    path: Path
    sha256: str

    @property
    def key(self) -> str:
        return f"{self.sha256[:32]}.zip"


def _files(tree: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        out.extend(Path(dirpath) / f for f in sorted(filenames) if not f.endswith(".pyc"))
    return out


def _tree_hash(trees: list[Path], extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode())
    for tree in trees:
        for f in _files(tree):
            digest.update(str(f.relative_to(tree)).encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()


def _zip(tree: Path, out: Path) -> None:
    tmp = out.with_suffix(".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for f in _files(tree):
            zf.write(f, f.relative_to(tree).as_posix())
    tmp.replace(out)


def _uv() -> str:
    return shutil.which("uv") or "uv"


def requirements() -> str:
    """The layer's pinned third-party requirements, without hashes (they pin AWS's arm64/cp312 wheels; this
    build installs this machine's) and without what the Lambda runtime provides."""
    pinned = ROOT / "layers" / "deps" / "requirements.txt"
    if pinned.is_file():
        text = pinned.read_text()
    else:
        text = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            [_uv(), "export", "--frozen", "--no-dev", "--extra", "runtime", "--no-hashes", "--no-emit-project",
             "--no-header", "-q"],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    keep = []
    for line in text.replace("\\\n", " ").splitlines():
        spec = " ".join(tok for tok in line.split("#", 1)[0].split() if not tok.startswith("--hash"))
        name = spec.split(";")[0].split("==")[0].split("[")[0].strip().lower()
        if name and name not in RUNTIME_PROVIDED:
            keep.append(spec)
    return "\n".join(keep) + "\n"


class Builder:
    """Builds into ``<stack dir>/build``; one zip per distinct content."""

    def __init__(self, build_dir: Path) -> None:
        self.dir = build_dir
        self.dir.mkdir(parents=True, exist_ok=True)

    def function(self, code_uri: Path) -> Artifact:
        sha = _tree_hash([code_uri], "function")
        out = self.dir / f"function-{sha[:16]}.zip"
        if not out.exists():
            _zip(code_uri, out)
        return Artifact(out, sha)

    def layer(self, content_uri: Path) -> Artifact:
        reqs = requirements()
        sources = [content_uri / "core", ROOT / "contracts"]
        sha = _tree_hash(sources, f"layer {sys.version_info[:2]} {reqs} {(ROOT / 'pyproject.toml').read_text()}")
        out = self.dir / f"layer-{sha[:16]}.zip"
        if out.exists():
            return Artifact(out, sha)
        stage = self.dir / f"layer-{sha[:16]}"
        shutil.rmtree(stage, ignore_errors=True)
        python = stage / "python"
        req = self.dir / f"requirements-{sha[:16]}.txt"
        req.write_text(reqs)
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        # As layers/Makefile does, for this machine instead of arm64/cp312: the pinned deps, then the project
        # itself with its dist-info (tradeengine.__version__ reads it), minus the laptop-only package.
        for args in (["-r", str(req)], ["--reinstall-package", "petrosa-tradeengine", str(ROOT)]):
            subprocess.run(  # noqa: S603 (fixed argv, no shell)
                [_uv(), "pip", "install", "--quiet", "--no-deps", "--target", str(python), "--python", version, *args],
                cwd=ROOT, check=True, capture_output=True, text=True,
            )  # fmt: skip
        req.unlink()
        for extra in ("local", "bin"):
            shutil.rmtree(python / extra, ignore_errors=True)
        _zip(stage, out)
        shutil.rmtree(stage, ignore_errors=True)
        return Artifact(out, sha)


def package(template: dict[str, Any], builder: Builder, bucket: str) -> tuple[dict[str, Any], list[Artifact]]:
    """A copy of ``template`` whose local CodeUri/ContentUri point at ``s3://bucket/<sha>.zip``."""
    out = copy.deepcopy(template)
    artifacts: list[Artifact] = []
    for logical_id in resources(out, "AWS::Serverless::Function"):
        uri = function_property(out, logical_id, "CodeUri")
        if isinstance(uri, str) and not uri.startswith("s3://"):
            art = builder.function(ROOT / uri)
            artifacts.append(art)
            out["Resources"][logical_id].setdefault("Properties", {})["CodeUri"] = f"s3://{bucket}/{art.key}"
    for res in resources(out, "AWS::Serverless::LayerVersion").values():
        uri = res.get("Properties", {}).get("ContentUri")
        if isinstance(uri, str) and not uri.startswith("s3://"):
            art = builder.layer(ROOT / uri)
            artifacts.append(art)
            res["Properties"]["ContentUri"] = f"s3://{bucket}/{art.key}"
            res.pop("Metadata", None)  # BuildMethod is for `sam build`; done here
    return out, artifacts
