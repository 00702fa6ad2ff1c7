"""Stack parameters for the CDK app, from the files SAM deploys with: template.yaml's parameter defaults,
overridden by ``samconfig.toml`` ``[<env>.deploy.parameters].parameter_overrides``. One source of truth:
``cdk deploy -c environment=prod`` and ``sam deploy --config-env prod`` configure the same stack."""

from __future__ import annotations

import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
SAMCONFIG = ROOT / "samconfig.toml"


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]
    """YAML loader that keeps CloudFormation short-form tags (!Ref, !If, ...) as {"Ref": ...} / {"Fn::If": ...}."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = suffix if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open() as f:
        return dict(yaml.load(f, Loader=_CfnLoader))  # noqa: S506 - SafeLoader subclass, only CFN tags added


def parameter_values(environment: str, template: dict[str, Any] | None = None) -> dict[str, str]:
    """Template defaults, then the samconfig overrides of ``environment`` (local, dev, prod)."""
    template = template or load_template()
    values = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
    config = tomllib.loads(SAMCONFIG.read_text())
    overrides = config.get(environment, {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides", [])
    items = shlex.split(overrides) if isinstance(overrides, str) else list(overrides)
    for item in items:
        key, _, value = item.partition("=")
        if key not in values:
            raise ValueError(f"samconfig.toml [{environment}]: unknown parameter {key!r}")
        values[key] = value
    values["Environment"] = values.get("Environment") or environment
    return values


@dataclass(frozen=True, slots=True)
class StackConfig:
    environment: str
    params: dict[str, str]

    @classmethod
    def for_environment(cls, environment: str) -> StackConfig:
        return cls(environment, parameter_values(environment))

    @property
    def stack_name(self) -> str:
        config = tomllib.loads(SAMCONFIG.read_text())
        name = config.get(self.environment, {}).get("deploy", {}).get("parameters", {}).get("stack_name")
        return str(name or f"petrosa-tradeengine-{self.environment}")

    def get(self, name: str) -> str:
        return self.params[name]

    def optional(self, name: str) -> str | None:
        return self.params[name] or None

    @property
    def is_local(self) -> bool:
        return self.params["Environment"] == "local"

    @property
    def is_prod(self) -> bool:
        return self.params["Environment"] == "prod"
