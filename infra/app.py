"""CDK app: ``python -m infra.app`` synthesises to $CDK_OUTDIR (default cdk.out) and fails on any cdk-nag
AwsSolutions finding that is not acknowledged with a reason (infra/nag.py).

    npx aws-cdk deploy --app "uv run python -m infra.app" -c environment=prod   # or: make cdk-deploy ENV=prod
"""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import StackConfig
from infra.nag import acknowledge
from infra.stack import TradeEngineStack


def build_app(environment: str | None = None, **app_kwargs: object) -> tuple[App, TradeEngineStack]:
    app = App(**app_kwargs)  # type: ignore[arg-type]
    env_name = environment or str(app.node.try_get_context("environment") or "dev")
    config = StackConfig.for_environment(env_name)
    stack = TradeEngineStack(
        app,
        config.stack_name,
        config=config,
        stack_name=config.stack_name,
        description="Petrosa Trading Engine (serverless), CDK edition of template.yaml",
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    acknowledge(stack)
    return app, stack


def main() -> None:
    app, _ = build_app(outdir=os.environ.get("CDK_OUTDIR") or None)
    app.synth()


if __name__ == "__main__":
    main()
