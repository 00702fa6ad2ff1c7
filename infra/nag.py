"""cdk-nag AwsSolutions findings this stack acknowledges, each with the reason. Anything else fails synth.

Acknowledgements are per finding (cdk-nag v3, ``Validations.of(construct).acknowledge``), on the construct
that raises it, never stack-wide, so a new resource with the same problem still fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_dynamodb as ddb

if TYPE_CHECKING:
    from infra.stack import TradeEngineStack

PLUGIN = "AwsSolutions::"

REASONS: dict[str, str] = {
    "AwsSolutions-L1": (
        "python3.12 on purpose: the layer is built from cp312 arm64 wheels (layers/Makefile) and template.yaml "
        "declares the same runtime; the runtime is bumped in both, with the layer, in one change."
    ),
    "AwsSolutions-APIG4": (
        "Authorization is in the application: HS256 JWT bearer tokens with per-route scopes "
        "(tradeengine.api.auth); only /health, /ready, /live and /docs are public by design, which an "
        "API Gateway authorizer on the $default route could not express."
    ),
    "AwsSolutions-IAM5[index]": (
        "The only index is the sparse 'open-signals' GSI the monitor queries; CDK's table grant names "
        "<table>/index/* rather than each index. Scoped to this one table."
    ),
}


def acknowledge(stack: TradeEngineStack) -> None:
    signals_table = stack.signals_table.node.default_child
    assert isinstance(signals_table, ddb.CfnTable)
    table_id = stack.resolve(stack.get_logical_id(signals_table))
    for fn in stack.functions.all.values():
        Validations.of(fn).acknowledge(Acknowledgment(id=f"{PLUGIN}AwsSolutions-L1", reason=REASONS["AwsSolutions-L1"]))
        Validations.of(fn.role).acknowledge(  # type: ignore[arg-type]
            Acknowledgment(
                id=f"{PLUGIN}AwsSolutions-IAM5[Resource::<{table_id}.Arn>/index/*]",
                reason=REASONS["AwsSolutions-IAM5[index]"],
            )
        )
    Validations.of(stack.api).acknowledge(
        Acknowledgment(id=f"{PLUGIN}AwsSolutions-APIG4", reason=REASONS["AwsSolutions-APIG4"])
    )
