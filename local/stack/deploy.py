"""Deploy template.yaml into the local AWS (MiniStack, or a LocalStack named by AWS_ENDPOINT_URL).

The same path as ``sam deploy``: package local code to S3, then CloudFormation CreateStack/UpdateStack
with the ``AWS::Serverless-2016-10-31`` transform applied by the emulator. The laptop's values (the
local exchange as market data, the local MongoDB, the stack's JWT key) go in as stack parameters, on
top of samconfig.toml's ``local`` environment.

One emulator gap is filled here: MiniStack 1.5.33 creates an ``AWS::ApiGatewayV2::Api`` but does not
import the OpenAPI body SAM writes into it, so the HTTP API has no routes. After the stack completes,
each function's ``HttpApi`` events become the same routes and AWS_PROXY (payload 2.0) integrations
through the API Gateway v2 API, only when the API has none (LocalStack imports the body itself).
"""

from __future__ import annotations

import hashlib
import json
import time
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local.stack.package import Builder, load_template, package, resources
from local.stack.services import ROOT

BUCKET = "petrosa-local-artifacts"
TEMPLATE = ROOT / "template.yaml"
SAMCONFIG = ROOT / "samconfig.toml"
DEPLOY_TIMEOUT_S = 180.0


def _client(service: str, endpoint: str) -> Any:
    from tradeengine.stores import aws

    return aws.client(service, endpoint_url=endpoint, region="us-east-1")


def _samconfig_deploy(env: str) -> dict[str, Any]:
    try:
        config = tomllib.loads(SAMCONFIG.read_text())
    except (OSError, ValueError):
        return {}
    section: dict[str, Any] = config.get(env, {}).get("deploy", {}).get("parameters", {})
    return section


def stack_name(env: str = "local") -> str:
    return str(_samconfig_deploy(env).get("stack_name", "petrosa-tradeengine-local"))


def samconfig_parameters(env: str = "local") -> dict[str, str]:
    """``parameter_overrides`` of samconfig.toml's [<env>.deploy.parameters] as a dict."""
    raw = _samconfig_deploy(env).get("parameter_overrides", "")
    items = raw if isinstance(raw, list) else str(raw).split()
    out = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if sep:
            out[key.strip()] = value.strip().strip('"')
    return out


def _wait_stack(cf: Any, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + DEPLOY_TIMEOUT_S
    while True:
        stack: dict[str, Any] = cf.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return stack
        time.sleep(0.5)


def _failure_reasons(cf: Any, name: str) -> str:
    events = cf.describe_stack_events(StackName=name)["StackEvents"]
    failed = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}" for e in events
              if "FAILED" in e["ResourceStatus"]]  # fmt: skip
    return "; ".join(failed[:5]) or "no reason given"


def _existing(cf: Any, name: str) -> dict[str, Any] | None:
    try:
        stack: dict[str, Any] = cf.describe_stacks(StackName=name)["Stacks"][0]
    except Exception:  # botocore ClientError: does not exist
        return None
    return None if stack["StackStatus"] in ("DELETE_COMPLETE", "ROLLBACK_COMPLETE") else stack


def _route_key(event: Mapping[str, Any]) -> str:
    props = event.get("Properties") or {}
    path, method = props.get("Path"), props.get("Method")
    if not path:
        return "$default"
    method = "ANY" if not method or str(method).lower() in ("any", "x-amazon-apigateway-any-method") else method
    return f"{str(method).upper()} {path}"


def wire_http_api(template: dict[str, Any], endpoint: str, physical: Mapping[str, str]) -> list[str]:
    """Create the routes SAM declared (MiniStack does not import the OpenAPI body). Returns route keys."""
    apigw = _client("apigatewayv2", endpoint)
    lam = _client("lambda", endpoint)
    made: list[str] = []
    had_routes: dict[str, bool] = {}
    for logical_id, res in resources(template, "AWS::Serverless::Function").items():
        for event in (res.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") != "HttpApi":
                continue
            api_ref = (event.get("Properties") or {}).get("ApiId", {"Ref": "ServerlessHttpApi"})
            api_id = physical.get(api_ref.get("Ref", "") if isinstance(api_ref, dict) else str(api_ref))
            if not api_id:
                continue
            if api_id not in had_routes:
                had_routes[api_id] = bool(apigw.get_routes(ApiId=api_id)["Items"])
            if had_routes[api_id]:
                continue  # the emulator imported the routes itself (or an earlier deploy made them)
            arn = lam.get_function(FunctionName=physical[logical_id])["Configuration"]["FunctionArn"]
            integration = apigw.create_integration(
                ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=arn, PayloadFormatVersion="2.0"
            )
            key = _route_key(event)
            apigw.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration['IntegrationId']}")
            made.append(key)
    return made


def deploy(
    endpoint: str,
    build_dir: Path,
    parameters: Mapping[str, str],
    previous: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """Package, create or update the stack, wire the HTTP API; returns what the rest of the stack needs.

    When nothing changed since ``previous`` and the stack still exists, nothing is deployed again.
    """
    name = name or stack_name()
    template = load_template(TEMPLATE)
    packaged, artifacts = package(template, Builder(build_dir), BUCKET)
    params = {**samconfig_parameters(), **parameters}
    declared = template.get("Parameters", {})
    params = {k: v for k, v in params.items() if k in declared}
    body = json.dumps(packaged, sort_keys=True)
    digest = hashlib.sha256(f"{body}{sorted(params.items())}".encode()).hexdigest()

    cf = _client("cloudformation", endpoint)
    stack = _existing(cf, name)
    if stack and previous and previous.get("digest") == digest and previous.get("endpoint") == endpoint:
        return {**previous, "reused": True}

    s3 = _client("s3", endpoint)
    try:
        s3.create_bucket(Bucket=BUCKET)
    except Exception as exc:  # already ours
        if "BucketAlready" not in type(exc).__name__ and "BucketAlready" not in str(exc):
            raise
    for art in artifacts:
        s3.upload_file(str(art.path), BUCKET, art.key)

    args = {
        "StackName": name,
        "TemplateBody": body,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    }
    started = time.monotonic()
    if stack is None:
        cf.create_stack(**args)
    else:
        try:
            cf.update_stack(**args)
        except Exception as exc:
            if "No updates" not in str(exc):
                raise
    stack = _wait_stack(cf, name)
    if stack["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise RuntimeError(f"stack {stack['StackStatus']}: {_failure_reasons(cf, name)}")
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cf.describe_stack_resources(StackName=name)["StackResources"]
    }
    routes = wire_http_api(template, endpoint, physical)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return {
        "digest": digest,
        "endpoint": endpoint,
        "stack": name,
        "status": stack["StackStatus"],
        "seconds": round(time.monotonic() - started, 1),
        "physical": physical,
        "outputs": outputs,
        "routes_added": routes,
        "types": {k: v.get("Type") for k, v in packaged["Resources"].items()},
    }
