"""The CDK app: synthesised in-process, cdk-nag AwsSolutions clean, and the same stack as template.yaml."""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from aws_cdk import assertions

from infra.config import load_template, parameter_values

ENVIRONMENTS = ("local", "dev", "prod")
NO_BUNDLING = {"aws:cdk:bundling-stacks": []}  # the layer's make build is tested in test_template.py
SAM = load_template()


@cache
def _synth(environment: str, outdir: str) -> dict[str, Any]:
    from infra.app import build_app

    app, stack = build_app(environment, outdir=outdir, context=NO_BUNDLING)
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    return dict(assertions.Template.from_stack(stack).to_json())


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def synth(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    env = str(request.param)
    return env, _synth(env, str(tmp_path_factory.mktemp(f"cdk-{env}")))


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """Resources of one type, keyed by the SAM logical id their CDK id starts with (CDK adds an 8-hex hash)."""
    return {re.sub(r"[0-9A-F]{8}$", "", k): v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_synth_passes_cdk_nag(synth: tuple[str, dict[str, Any]]) -> None:
    _env, template = synth
    assert template["Resources"]


def test_cdk_nag_fails_an_unacknowledged_finding(tmp_path: Path) -> None:
    """The check is live: a queue without a DLQ or TLS-only policy fails synth."""
    from aws_cdk import aws_sqs as sqs

    from infra.app import build_app

    app, stack = build_app("dev", outdir=str(tmp_path), context=NO_BUNDLING)
    sqs.Queue(stack, "Unchecked")
    with pytest.raises(Exception, match="AwsSolutions-SQS3"):
        app.synth()


def test_functions_queues_tables(synth: tuple[str, dict[str, Any]]) -> None:
    env, template = synth
    t = assertions.Template.from_json(template)
    t.resource_count_is("AWS::Lambda::Function", 5)
    t.all_resources_properties("AWS::Lambda::Function", {"Runtime": "python3.12", "Architectures": ["arm64"]})
    t.resource_count_is("AWS::Lambda::LayerVersion", 1)
    t.resource_count_is("AWS::SQS::Queue", 6)
    t.all_resources_properties("AWS::SQS::Queue", {"FifoQueue": True, "SqsManagedSseEnabled": True})
    t.resource_count_is("AWS::DynamoDB::Table", 6)
    t.resource_count_is("AWS::SNS::Topic", 1)
    t.all_resources_properties(
        "AWS::DynamoDB::Table", {"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}
    )
    t.resource_count_is("AWS::ApiGatewayV2::Route", 1)
    t.has_resource_properties("AWS::ApiGatewayV2::Route", {"RouteKey": "$default"})
    t.has_resource_properties(
        "AWS::ApiGatewayV2::Stage", {"StageName": "$default", "AccessLogSettings": assertions.Match.any_value()}
    )
    t.resource_count_is("AWS::CloudWatch::Alarm", 0 if env == "local" else 10)
    t.resource_count_is("AWS::CloudWatch::Dashboard", 1)


def test_dashboard_shows_latency_trades_errors_and_dlq_depth(synth: tuple[str, dict[str, Any]]) -> None:
    _env, template = synth
    (dashboard,) = _of_type(template, "AWS::CloudWatch::Dashboard").values()
    body = str(dashboard["Properties"]["DashboardBody"])
    for needle in (
        "Latency",
        "tradeengine_latency_seconds",
        "Trades by status",
        "tradeengine_trades_total",
        "tradeengine_errors_total",
        "Errors",
        "Dead-letter queue depth",
        "tradeengine_realized_pnl",
        "tradeengine_position_quantity",
    ):
        assert needle in body, needle


# --- parity with template.yaml ------------------------------------------------------------------------------
def _condition(name: str, params: dict[str, str]) -> bool:
    return bool(_eval(SAM["Conditions"][name], params))


def _eval(node: Any, params: dict[str, str]) -> Any:
    """Enough of CloudFormation to decide which keys a template sets for given parameter values."""
    if isinstance(node, dict) and len(node) == 1:
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return params.get(arg, f"<{arg}>")
        if fn == "Fn::Equals":
            return _eval(arg[0], params) == _eval(arg[1], params)
        if fn == "Fn::Not":
            return not _eval(arg[0], params)
        if fn == "Condition":
            return _condition(arg, params)
        if fn == "Fn::If":
            return _eval(arg[1] if _condition(arg[0], params) else arg[2], params)
    return node


def _sam_env_names(fn: str, params: dict[str, str]) -> set[str]:
    variables = {
        **SAM["Globals"]["Function"]["Environment"]["Variables"],
        **SAM["Resources"][fn]["Properties"].get("Environment", {}).get("Variables", {}),
    }
    return {k for k, v in variables.items() if _eval(v, params) != "<AWS::NoValue>"}


def test_same_functions_and_environment_variable_names(synth: tuple[str, dict[str, Any]]) -> None:
    env, template = synth
    params = parameter_values(env)
    cdk_functions = _of_type(template, "AWS::Lambda::Function")
    sam_functions = {k for k, v in SAM["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    assert set(cdk_functions) == sam_functions
    for name, fn in cdk_functions.items():
        cdk_names = set(fn["Properties"]["Environment"]["Variables"])
        assert cdk_names == _sam_env_names(name, params), name
        sam_timeout = SAM["Resources"][name]["Properties"].get("Timeout", SAM["Globals"]["Function"]["Timeout"])
        assert fn["Properties"]["Timeout"] == sam_timeout, name


def test_same_queues(synth: tuple[str, dict[str, Any]]) -> None:
    _env, template = synth
    cdk = _of_type(template, "AWS::SQS::Queue")
    sam = {k: v["Properties"] for k, v in SAM["Resources"].items() if v["Type"] == "AWS::SQS::Queue"}
    assert set(cdk) == set(sam)
    for name, props in sam.items():
        mine = cdk[name]["Properties"]
        assert mine.get("VisibilityTimeout") == props.get("VisibilityTimeout"), name
        assert mine.get("MessageRetentionPeriod") == props.get("MessageRetentionPeriod"), name
        assert ("RedrivePolicy" in mine) == ("RedrivePolicy" in props), name
        if "RedrivePolicy" in props:
            assert mine["RedrivePolicy"]["maxReceiveCount"] == props["RedrivePolicy"]["maxReceiveCount"]
            target = mine["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            assert target.startswith(props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0])
        suffix = props["QueueName"]["Fn::Sub"].removeprefix("${AWS::StackName}")
        assert mine["QueueName"].endswith(suffix), name


def test_same_tables(synth: tuple[str, dict[str, Any]]) -> None:
    _env, template = synth
    cdk = _of_type(template, "AWS::DynamoDB::Table")
    sam = {k: v["Properties"] for k, v in SAM["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table"}
    assert set(cdk) == set(sam)
    for name, props in sam.items():
        mine = cdk[name]["Properties"]
        assert mine["KeySchema"] == props["KeySchema"], name
        assert sorted(mine["AttributeDefinitions"], key=str) == sorted(props["AttributeDefinitions"], key=str)
        assert mine.get("GlobalSecondaryIndexes", []) == props.get("GlobalSecondaryIndexes", []), name
        assert mine.get("TimeToLiveSpecification") == props.get("TimeToLiveSpecification"), name


def test_same_execution_events_topic_and_grants(synth: tuple[str, dict[str, Any]]) -> None:
    _env, template = synth
    (topic,) = _of_type(template, "AWS::SNS::Topic").values()
    sam = SAM["Resources"]["ExecutionEventsTopic"]["Properties"]
    assert topic["Properties"]["FifoTopic"] is True and topic["Properties"]["ContentBasedDeduplication"] is False
    assert topic["Properties"]["TopicName"].endswith(sam["TopicName"]["Fn::Sub"].removeprefix("${AWS::StackName}"))
    assert "alias/aws/sns" in str(topic["Properties"]["KmsMasterKeyId"])
    (policy,) = _of_type(template, "AWS::SNS::TopicPolicy").values()
    assert '"aws:SecureTransport": "false"' in json.dumps(policy["Properties"]["PolicyDocument"])
    policies = _of_type(template, "AWS::IAM::Policy")
    for name in _of_type(template, "AWS::Lambda::Function"):
        statements = json.dumps([p for k, p in policies.items() if k.startswith(f"{name}Role")])
        if name == "NotifierFunction":  # it reads the events (its queue); it publishes none, keeps no outbox
            assert "sns:Publish" not in statements and "events_outbox" not in statements
            continue
        assert "sns:Publish" in statements, name
        assert name == "ApiFunction" or '"events_outbox*"' in statements, name


def test_same_event_sources(synth: tuple[str, dict[str, Any]]) -> None:
    env, template = synth
    mappings = _of_type(template, "AWS::Lambda::EventSourceMapping").values()
    cdk = {
        (
            m["Properties"]["FunctionName"]["Ref"][:-8],
            m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0][:-8],
            m["Properties"]["BatchSize"],
            tuple(m["Properties"]["FunctionResponseTypes"]),
        )
        for m in mappings
    }
    sam = set()
    for name, res in SAM["Resources"].items():
        for event in res.get("Properties", {}).get("Events", {}).values():
            if event["Type"] == "SQS":
                p = event["Properties"]
                sam.add((name, p["Queue"]["Fn::GetAtt"][0], p["BatchSize"], tuple(p["FunctionResponseTypes"])))
    assert cdk == sam
    (rule,) = _of_type(template, "AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"] == parameter_values(env)["MonitorSchedule"]
    assert rule["Properties"]["Targets"][0]["Arn"]["Fn::GetAtt"][0].startswith("MonitorFunction")


def test_secrets_are_read_at_cold_start_never_put_in_the_environment(synth: tuple[str, dict[str, Any]]) -> None:
    """Like template.yaml: only secret names in the functions' environment, a GetSecretValue grant on each."""
    env, template = synth
    params = parameter_values(env)
    assert "{{resolve:" not in str(template)
    policies = _of_type(template, "AWS::IAM::Policy")
    for name, fn in _of_type(template, "AWS::Lambda::Function").items():
        variables = fn["Properties"]["Environment"]["Variables"]
        wanted = {"BINANCE_SECRET_ID": "BinanceSecretName", "MONGODB_URL_SECRET_ID": "MongoDbUrlSecretName"}
        if name == "NotifierFunction":  # no exchange key, no audit trail: no secret at all
            wanted = {}
        if name == "ApiFunction":
            wanted["JWT_SECRET_ID"] = "JwtSecretName"
        named = {var: params[param] for var, param in wanted.items() if params[param]}
        assert {k: v for k, v in variables.items() if k.endswith("_SECRET_ID")} == named, name
        assert "JWT_SECRET_KEY" not in variables or not params["JwtSecretName"], name
        assert "MONGODB_URL" not in variables or not params["MongoDbUrlSecretName"], name
        policy = str([p for k, p in policies.items() if k.startswith(f"{name}Role")])
        for secret in named.values():
            assert f":secret:{secret}-??????" in policy, (name, secret)
