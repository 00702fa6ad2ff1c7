"""template.yaml: linted (cfn-lint, sam validate --lint), and true to the code it deploys.

The code is the reference: table key schemas come from ``tests.support.tables`` (the tables every store's
integration test runs on), env var names from ``Settings``, the redrive count from the same module; the
layer's requirements from ``uv.lock``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from infra.config import ROOT, load_template, parameter_values

TEMPLATE = ROOT / "template.yaml"
REQUIREMENTS = ROOT / "layers" / "deps" / "requirements.txt"
SAM_CLI = "aws-sam-cli==1.170.0"

T = load_template()
RESOURCES: dict[str, Any] = T["Resources"]
FUNCTIONS = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
GLOBAL_ENV: dict[str, Any] = T["Globals"]["Function"]["Environment"]["Variables"]
NO_VALUE = {"Ref": "AWS::NoValue"}


def _props(logical_id: str) -> dict[str, Any]:
    return dict(RESOURCES[logical_id]["Properties"])


def test_cfn_lint_passes() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_catches_a_broken_template(tmp_path: Path) -> None:
    broken = tmp_path / "template.yaml"
    broken.write_text(TEMPLATE.read_text().replace("BillingMode: PAY_PER_REQUEST", "BillingMode: PAY_PER_REQUESTS", 1))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), str(broken)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0


def test_sam_validate_lint() -> None:
    uvx = shutil.which("uvx")
    if uvx is None:
        pytest.skip("uvx is not on PATH: sam validate --lint runs aws-sam-cli in its own tool environment")
    env = {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }
    result = subprocess.run(
        [uvx, "--from", SAM_CLI, "sam", "validate", "--lint", "--template-file", str(TEMPLATE)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=env,
    )
    if result.returncode != 0 and "valid SAM Template" not in result.stdout and _looks_offline(result.stderr):
        pytest.skip(f"{SAM_CLI} could not be installed from PyPI (offline?): {result.stderr.strip()[-300:]}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout


def _looks_offline(stderr: str) -> bool:
    return any(s in stderr for s in ("Failed to fetch", "error sending request", "dns error", "Could not connect"))


# --- the layer ----------------------------------------------------------------------------------------------
def test_layer_requirements_match_uv_lock() -> None:
    """requirements.txt is exactly what its header's `uv export` command prints from uv.lock now."""
    lines = REQUIREMENTS.read_text().splitlines()
    command = next(line.strip(" #") for line in lines[:3] if "uv export" in line)
    argv = shlex.split(command)
    assert "--frozen" in argv and "--extra" in argv and "runtime" in argv, command
    out = argv.index("--output-file")
    del argv[out : out + 2]
    uv = shutil.which("uv") or pytest.skip("uv is not on PATH")
    exported = subprocess.run([uv, *argv[1:], "--quiet"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert exported.returncode == 0, exported.stderr
    body = [line for line in exported.stdout.splitlines() if not line.startswith("#")]
    assert body == [line for line in lines if not line.startswith("#")], (
        "layers/deps/requirements.txt drifted from uv.lock: run `make layer-requirements`"
    )


def test_layer_carries_the_runtime_dependencies_but_not_boto3() -> None:
    pinned = {line.split("==")[0].lower() for line in REQUIREMENTS.read_text().splitlines() if "==" in line}
    wanted = {
        "python-binance",
        "pymongo",
        "aws-lambda-powertools",
        "fastapi",
        "mangum",
        "pyjwt",
        "prometheus-client",
        "pydantic",
        "pydantic-settings",
        "tenacity",
    }
    assert wanted <= pinned, wanted - pinned
    assert not {"boto3", "botocore", "nats-py", "rich"} & pinned  # runtime-provided, or not used by functions


@pytest.mark.timeout(600)
def test_layer_build_is_arm64_cp312_and_reports_the_version(tmp_path: Path) -> None:
    """What sam build runs for CoreLayer: the engine with its dist-info (tradeengine.__version__) + deps."""
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT / "layers"), "build-CoreLayer", f"ARTIFACTS_DIR={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0 and _looks_offline(result.stderr):
        pytest.skip(f"wheels could not be fetched from PyPI (offline?): {result.stderr.strip()[-300:]}")
    assert result.returncode == 0, result.stderr
    site = tmp_path / "python"
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert (site / f"petrosa_tradeengine-{version}.dist-info" / "METADATA").exists()
    assert (site / "tradeengine" / "config.py").exists() and (site / "contracts").is_dir()
    assert list(site.glob("pydantic_core/*cpython-312-aarch64-linux-gnu.so")), (
        "pydantic-core is not the arm64 cp312 wheel"
    )
    assert not (site / "local").exists() and not (site / "boto3").exists()


# --- functions, events, environment -------------------------------------------------------------------------
def test_five_arm64_python312_functions_share_the_layer() -> None:
    fn_globals = T["Globals"]["Function"]
    assert fn_globals["Runtime"] == "python3.12" and fn_globals["Architectures"] == ["arm64"]
    assert fn_globals["Layers"] == [{"Ref": "CoreLayer"}]
    assert set(FUNCTIONS) == {
        "ApiFunction",
        "SizingFunction",
        "ExecutionFunction",
        "MonitorFunction",
        "NotifierFunction",
    }
    for name, fn in FUNCTIONS.items():
        code = ROOT / fn["Properties"]["CodeUri"] / "app.py"
        assert "def handler" in code.read_text() or "handler = " in code.read_text(), name
        assert fn["Properties"]["Handler"] == "app.handler"
    layer = RESOURCES["CoreLayer"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert "build-CoreLayer:" in (ROOT / layer["Properties"]["ContentUri"] / "Makefile").read_text()


def test_every_environment_variable_is_a_settings_field() -> None:
    from tradeengine.config import Settings

    fields = {name.upper() for name in Settings.model_fields}
    names = set(GLOBAL_ENV)
    for fn in FUNCTIONS.values():
        names |= set(fn["Properties"].get("Environment", {}).get("Variables", {}))
    unknown = {n for n in names if n not in fields and not n.startswith("POWERTOOLS_")}
    assert not unknown, f"read by nobody: {unknown}"


def test_sqs_event_sources_report_partial_batch_failures() -> None:
    expected = {
        "SizingFunction": "SignalsQueue",
        "ExecutionFunction": "OrdersQueue",
        "NotifierFunction": "NotificationsQueue",
    }
    for fn_name, queue in expected.items():
        (event,) = FUNCTIONS[fn_name]["Properties"]["Events"].values()
        assert event["Type"] == "SQS"
        assert event["Properties"]["Queue"] == {"Fn::GetAtt": [queue, "Arn"]}
        assert event["Properties"]["BatchSize"] == 10
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    (schedule,) = FUNCTIONS["MonitorFunction"]["Properties"]["Events"].values()
    assert schedule["Type"] == "Schedule" and schedule["Properties"]["Schedule"] == {"Ref": "MonitorSchedule"}
    assert T["Parameters"]["MonitorSchedule"]["Default"] == "rate(1 minute)"
    (http,) = FUNCTIONS["ApiFunction"]["Properties"]["Events"].values()
    assert http["Type"] == "HttpApi" and http["Properties"]["PayloadFormatVersion"] == "2.0"
    assert "Path" not in http["Properties"], "the $default route: every path reaches FastAPI"


def test_queues_are_fifo_with_dlq_and_visibility_six_times_the_consumer_timeout() -> None:
    from tests.support.tables import MAX_RECEIVE_COUNT

    default_timeout = T["Globals"]["Function"]["Timeout"]
    for queue, dlq, consumer in (
        ("SignalsQueue", "SignalsDeadLetterQueue", "SizingFunction"),
        ("OrdersQueue", "OrdersDeadLetterQueue", "ExecutionFunction"),
        ("NotificationsQueue", "NotificationsDeadLetterQueue", "NotifierFunction"),
    ):
        props, dlq_props = _props(queue), _props(dlq)
        assert props["FifoQueue"] is True and dlq_props["FifoQueue"] is True
        assert props["QueueName"]["Fn::Sub"].endswith(".fifo") and dlq_props["QueueName"]["Fn::Sub"].endswith(
            "-dlq.fifo"
        )
        assert props["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
            "maxReceiveCount": MAX_RECEIVE_COUNT,
        }
        timeout = FUNCTIONS[consumer]["Properties"].get("Timeout", default_timeout)
        assert props["VisibilityTimeout"] == 6 * timeout


def test_every_table_is_its_one_definition() -> None:
    """template.yaml's tables are infra/tables.py's (the CDK stack and the tests build from it), key for key."""
    from infra.tables import BY_LOGICAL_ID as SPECS

    in_template = {k for k, v in RESOURCES.items() if v["Type"] == "AWS::DynamoDB::Table"}
    assert in_template == set(SPECS)
    for logical_id, spec in SPECS.items():
        props = _props(logical_id)
        assert props["KeySchema"] == spec.key_schema(), logical_id
        assert sorted(props["AttributeDefinitions"], key=str) == sorted(spec.attribute_definitions(), key=str)
        assert props.get("GlobalSecondaryIndexes", []) == spec.global_secondary_indexes(), logical_id
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        ttl = props.get("TimeToLiveSpecification")
        assert (ttl and ttl["Enabled"] and ttl["AttributeName"]) == (spec.ttl or None), logical_id
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert RESOURCES[logical_id]["DeletionPolicy"] == ("Retain" if spec.keep else "Delete"), logical_id
        assert ("DeletionProtectionEnabled" in props) == spec.keep, logical_id


# --- least privilege --------------------------------------------------------------------------------------
SECRET_PARAMETERS = {  # the parameter naming a secret -> the condition that grants it, the target's name here
    "BinanceSecretName": ("HasBinanceSecret", "BinanceSecret"),
    "JwtSecretName": ("HasJwtSecretName", "JwtSecret"),
    "MongoDbUrlSecretName": ("HasMongoDbUrlSecretName", "MongoDbUrlSecret"),
}


def _secret_target(condition: str | None, secret_arn: dict[str, Any]) -> str:
    """Which secret a GetSecretValue policy names: the one parameter in its ARN, granted under its condition."""
    (param,) = [p for p in SECRET_PARAMETERS if "${" + p + "}" in secret_arn["Fn::Sub"]]
    expected_condition, target = SECRET_PARAMETERS[param]
    assert secret_arn["Fn::Sub"].endswith(":secret:${" + param + "}-??????"), secret_arn
    assert condition == expected_condition, (condition, param)  # no grant on an empty name
    return target


def _policy_targets(fn: str) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for policy in FUNCTIONS[fn]["Properties"]["Policies"]:
        condition = None
        if "Fn::If" in policy:
            condition, policy = policy["Fn::If"][0], policy["Fn::If"][1]
        for kind, args in policy.items():
            if kind == "Statement":  # an inline statement: (Statement, the resource it names)
                out.update((kind, st["Resource"]["Fn::GetAtt"][0]) for st in args)
                continue
            if "SecretArn" in args:
                out.add((kind, _secret_target(condition, args["SecretArn"])))
                continue
            ref = args.get("TableName") or args.get("QueueName") or args.get("TopicName")
            out.add((kind, ref.get("Ref") or ref["Fn::GetAtt"][0]))
    return out


def test_each_function_reaches_only_what_it_uses() -> None:
    crud, read, send = "DynamoDBCrudPolicy", "DynamoDBReadPolicy", "SQSSendMessagePolicy"
    publish = ("SNSPublishMessagePolicy", "ExecutionEventsTopic")  # every function records steps: events
    get_secret = "AWSSecretsManagerGetSecretValuePolicy"
    secrets = {(get_secret, "BinanceSecret"), (get_secret, "MongoDbUrlSecret")}  # the JWT key: the API only
    common = {(crud, "SignalsTable"), (crud, "CountersTable"), (crud, "PaperBookTable"), publish} | secrets
    outbox = ("Statement", "ControlTable")  # the events outbox's keys only (below)
    assert _policy_targets("ApiFunction") == common | {
        (crud, "ControlTable"),
        (read, "BookTable"),
        (crud, "RulesTable"),
        (send, "SignalsQueue"),
        (get_secret, "JwtSecret"),
    }
    assert _policy_targets("SizingFunction") == common | {
        (read, "ControlTable"),
        (read, "BookTable"),
        (crud, "RulesTable"),
        (send, "OrdersQueue"),
        (send, "SignalsDeadLetterQueue"),
        (send, "SignalsQueue"),  # FLATTEN_ON_HALT ingests closes
        ("Statement", "SignalsQueue"),  # ChangeMessageVisibility: the venue budget's pacing
        outbox,
    }
    assert _policy_targets("ExecutionFunction") == common | {
        (crud, "RulesTable"),
        (crud, "BookTable"),
        (send, "OrdersDeadLetterQueue"),
        ("Statement", "OrdersQueue"),
        outbox,
    }
    assert _policy_targets("MonitorFunction") == common | {
        ("Statement", "ControlTable"),
        (crud, "BookTable"),
        (crud, "RulesTable"),
    }
    # The notifier touches no signal, order, book or exchange: its channels, its counters, its own queues.
    assert _policy_targets("NotifierFunction") == {
        (read, "ControlTable"),
        (crud, "CountersTable"),
        (send, "NotificationsDeadLetterQueue"),
        ("Statement", "NotificationsQueue"),
    }
    for fn, queue in (("SizingFunction", "SignalsQueue"), ("ExecutionFunction", "OrdersQueue"),
                      ("NotifierFunction", "NotificationsQueue")):  # fmt: skip
        (pacing,) = [
            s for p in FUNCTIONS[fn]["Properties"]["Policies"] if "Statement" in p for s in p["Statement"]
            if s["Resource"] == {"Fn::GetAtt": [queue, "Arn"]}
        ]  # fmt: skip
        assert pacing["Action"] == ["sqs:ChangeMessageVisibility"], fn
    inline = [p["Statement"] for p in FUNCTIONS["MonitorFunction"]["Properties"]["Policies"] if "Statement" in p]
    keys = "dynamodb:LeadingKeys"
    (cursor_only,) = [s for (s,) in inline if s["Condition"]["ForAllValues:StringLike"][keys] == ["cursor#*"]]
    assert sorted(cursor_only["Action"]) == ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"]
    for fn in ("SizingFunction", "ExecutionFunction", "MonitorFunction"):  # no reach to the trading switch
        (outbox_only,) = [
            s
            for p in FUNCTIONS[fn]["Properties"]["Policies"]
            if "Statement" in p
            for s in p["Statement"]
            if s.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
            == ["events_outbox*"]
        ]
        assert "dynamodb:Scan" not in outbox_only["Action"] and outbox_only["Resource"] == {
            "Fn::GetAtt": ["ControlTable", "Arn"]
        }


# A port of pipeline/deps.Deps -> the grants its adapter needs (any one of them will do).
PORT_GRANTS: dict[str, set[tuple[str, str]]] = {
    "store": {("DynamoDBCrudPolicy", "SignalsTable")},
    "signals": {("SQSSendMessagePolicy", "SignalsQueue")},
    "plans": {("SQSSendMessagePolicy", "OrdersQueue")},
    "counters": {("DynamoDBCrudPolicy", "CountersTable")},
    "windows": {("DynamoDBCrudPolicy", "CountersTable")},
    "auth_failures": {("DynamoDBCrudPolicy", "CountersTable")},
    "trading_state": {("DynamoDBReadPolicy", "ControlTable"), ("DynamoDBCrudPolicy", "ControlTable")},
    "hooks": {("DynamoDBReadPolicy", "ControlTable"), ("DynamoDBCrudPolicy", "ControlTable")},
    "cursors": {("Statement", "ControlTable"), ("DynamoDBCrudPolicy", "ControlTable")},
    "dead_letters": {("SQSSendMessagePolicy", "SignalsDeadLetterQueue")},
    "order_dead_letters": {("SQSSendMessagePolicy", "OrdersDeadLetterQueue")},
    "exchange": {("DynamoDBCrudPolicy", "PaperBookTable")},  # the paper book; Binance: its secret (below)
    "rules": {("DynamoDBCrudPolicy", "RulesTable")},
    "ledger": {("DynamoDBReadPolicy", "BookTable"), ("DynamoDBCrudPolicy", "BookTable")},
    "audit": set(),  # MongoDB, outside AWS's IAM (its URL's secret, below)
}


def test_each_function_is_granted_what_its_composition_root_wires() -> None:
    """pipeline/deps.WIRING says which ports each function builds (the others raise NotWired, so the real
    handlers in the integration, chaos and e2e tests meet a missing port first); each must be granted here,
    or the same path is an AccessDenied on AWS (MiniStack enforces no IAM)."""
    from tradeengine.pipeline.deps import WIRING

    for function, ports in WIRING.items():
        logical = f"{function.capitalize()}Function"
        granted = _policy_targets(logical)
        assert set(PORT_GRANTS) >= ports, ports - set(PORT_GRANTS)
        missing = {p for p in ports if PORT_GRANTS[p] and not PORT_GRANTS[p] & granted}
        assert not missing, f"{logical} wires {sorted(missing)} but template.yaml grants none of it"
        writes_book = ("DynamoDBCrudPolicy", "BookTable") in granted
        assert writes_book == (function in ("execution", "monitor")), function  # they book fills; others read


def test_the_execution_events_topic_is_fifo_encrypted_tls_only_and_named_to_every_function() -> None:
    topic = RESOURCES["ExecutionEventsTopic"]["Properties"]
    assert topic["FifoTopic"] is True and topic["ContentBasedDeduplication"] is False
    assert topic["TopicName"]["Fn::Sub"].endswith(".fifo") and topic["KmsMasterKeyId"] == "alias/aws/sns"
    (deny,) = RESOURCES["ExecutionEventsTopicTlsOnlyPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    variables = T["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["EXECUTION_EVENTS_TOPIC_ARN"] == {"Ref": "ExecutionEventsTopic"}
    from tradeengine.config import Settings

    assert "execution_events_topic_arn" in Settings.model_fields  # the variable the functions read


def test_secrets_are_references_never_values() -> None:
    """Only secret NAMES reach the Lambda environment (read at cold start): no value resolved at deploy, which
    anyone allowed lambda:GetFunctionConfiguration could read."""
    for name in ("JwtSecretKey", "MongoDbUrl"):
        assert T["Parameters"][name]["NoEcho"] is True and T["Parameters"][name]["Default"] == ""
    text = TEMPLATE.read_text()
    assert "{{resolve:secretsmanager" not in text and "{{resolve:ssm-secure" not in text
    api_env = FUNCTIONS["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert api_env["JWT_SECRET_ID"] == {"Fn::If": ["HasJwtSecretName", {"Ref": "JwtSecretName"}, NO_VALUE]}
    assert GLOBAL_ENV["MONGODB_URL_SECRET_ID"] == {
        "Fn::If": ["HasMongoDbUrlSecretName", {"Ref": "MongoDbUrlSecretName"}, NO_VALUE]
    }
    assert GLOBAL_ENV["BINANCE_SECRET_ID"] == {"Fn::If": ["HasBinanceSecret", {"Ref": "BinanceSecretName"}, NO_VALUE]}
    assert "JWT_SECRET_ID" not in GLOBAL_ENV and "JWT_SECRET_KEY" not in GLOBAL_ENV, "the JWT key is the API's"
    for name, fn in FUNCTIONS.items():
        if name != "ApiFunction":
            assert "JWT_SECRET_ID" not in fn["Properties"]["Environment"]["Variables"], name
    # the plain values: only from their NoEcho parameters, and never next to a secret name
    assert api_env["JWT_SECRET_KEY"] == {
        "Fn::If": ["HasJwtSecretName", NO_VALUE, {"Fn::If": ["HasJwtSecretKey", {"Ref": "JwtSecretKey"}, NO_VALUE]}]
    }
    assert GLOBAL_ENV["MONGODB_URL"] == {
        "Fn::If": ["HasMongoDbUrlSecretName", NO_VALUE, {"Fn::If": ["HasMongoDbUrl", {"Ref": "MongoDbUrl"}, NO_VALUE]}]
    }
    for name in ("JwtSecretName", "MongoDbUrlSecretName"):
        description = " ".join(T["Parameters"][name]["Description"].split())
        assert "at cold start" in description and "deploy" not in description, name
    samconfig = (ROOT / "samconfig.toml").read_text()
    assert "JwtSecretKey=" not in samconfig and "MongoDbUrl=" not in samconfig


# --- outputs and environments -------------------------------------------------------------------------------
def test_outputs_and_samconfig_environments() -> None:
    assert T["Outputs"]["ApiUrl"]["Value"] == {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]}
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    assert config["prod"]["deploy"]["parameters"]["stack_name"] == "petrosa-tradeengine-prod"
    for env in ("local", "dev", "prod"):
        values = parameter_values(env)  # raises on a parameter the template does not declare
        assert values["Environment"] == env
    assert parameter_values("prod")["JwtSecretName"], "prod must take its JWT key from Secrets Manager"
    assert parameter_values("local")["SimulationEnabled"] == "true"


def _has_value(condition: str, values: dict[str, str]) -> bool:
    """A ``Has<Parameter>`` condition (``!Not [!Equals [!Ref P, ""]]``) for given parameter values."""
    (equals,) = T["Conditions"][condition]["Fn::Not"]
    ref, empty = equals["Fn::Equals"]
    assert empty == ""
    return values[ref["Ref"]] != ""


def test_local_environment_needs_no_alarms_or_secrets() -> None:
    """Environment=local (MiniStack) creates no alarm, names no Secrets Manager secret and grants none."""
    alarms = [k for k, v in RESOURCES.items() if v["Type"] == "AWS::CloudWatch::Alarm"]
    assert len(alarms) == 10 and all(RESOURCES[a].get("Condition") == "CreateAlarms" for a in alarms)
    values = parameter_values("local")
    assert not values["JwtSecretName"] and not values["MongoDbUrlSecretName"] and not values["BinanceSecretName"]
    for param, (condition, _target) in SECRET_PARAMETERS.items():
        assert not _has_value(condition, values), param
    for name, fn in FUNCTIONS.items():
        env = GLOBAL_ENV | fn["Properties"]["Environment"]["Variables"]
        for var in ("JWT_SECRET_ID", "MONGODB_URL_SECRET_ID", "BINANCE_SECRET_ID"):
            if var in env and env[var] != NO_VALUE:  # set only under its Has<Name> condition, false on the laptop
                condition, _when_set, when_empty = env[var]["Fn::If"]
                assert not _has_value(condition, values) and when_empty == NO_VALUE, (name, var)
        granted = [p["Fn::If"][0] for p in fn["Properties"]["Policies"] if "Fn::If" in p]
        if name == "NotifierFunction":  # it reads no secret at all (its channels carry their own)
            assert granted == [], granted
            continue
        assert granted and not any(_has_value(c, values) for c in granted), name
