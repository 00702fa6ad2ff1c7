"""Log groups, made one way: retention from template.yaml's LogRetentionDays, destroyed with the stack."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct


def log_group(scope: Construct, cid: str, name: str, days: str) -> logs.LogGroup:
    group = logs.LogGroup(scope, cid, log_group_name=name, removal_policy=RemovalPolicy.DESTROY)
    # template.yaml's LogRetentionDays takes any value CloudWatch accepts; set it as is on the L1.
    cfn = group.node.default_child
    assert isinstance(cfn, logs.CfnLogGroup)
    cfn.retention_in_days = int(days)
    return group
