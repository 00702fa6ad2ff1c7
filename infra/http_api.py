"""The HTTP API in CDK, as template.yaml declares it: the $default route to the API function (payload 2.0),
the $default stage with access logs and throttling, and the optional custom domain over TLS 1.2.

Handed the function and the settings it needs; construct ids are template.yaml's logical ids.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53

from infra.config import StackConfig
from infra.logs import log_group


def add_http_api(stack: Stack, fn: lambda_.IFunction, config: StackConfig) -> apigw.HttpApi:
    """The $default route sends every path and method to FastAPI (the API function), logged, throttled."""
    api = apigw.HttpApi(
        stack,
        "HttpApi",
        description="Petrosa Trading Engine API (JWT bearer auth in the app; /health, /ready, /live are public)",
        default_integration=integrations.HttpLambdaIntegration(
            "ApiIntegration",
            fn,
            payload_format_version=apigw.PayloadFormatVersion.VERSION_2_0,
        ),
        create_default_stage=False,
    )
    access_logs = log_group(
        stack, "ApiAccessLogGroup", f"/aws/http-api/{stack.stack_name}", config.get("LogRetentionDays")
    )
    stage = apigw.HttpStage(
        stack,
        "HttpApiDefaultStage",
        http_api=api,
        stage_name="$default",
        auto_deploy=True,
        throttle=apigw.ThrottleSettings(rate_limit=50, burst_limit=100),
        access_log_settings=_AccessLogs(access_logs),
    )
    _custom_domain(stack, config, api, stage)
    return api


def _custom_domain(stack: Stack, config: StackConfig, api: apigw.HttpApi, stage: apigw.HttpStage) -> None:
    """template.yaml's ApiDomain, ApiDomainMapping and ApiDomainRecord: off unless ApiDomainName is set."""
    name = config.optional("ApiDomainName")
    if name is None:
        return
    certificate_arn = config.optional("ApiCertificateArn")
    if certificate_arn is None:
        raise ValueError("ApiDomainName needs ApiCertificateArn: an ACM certificate for it in this region")
    domain = apigw.DomainName(
        stack,
        "ApiDomain",
        domain_name=name,
        certificate=acm.Certificate.from_certificate_arn(stack, "ApiCertificate", certificate_arn),
        endpoint_type=apigw.EndpointType.REGIONAL,
        security_policy=apigw.SecurityPolicy.TLS_1_2,
    )
    apigw.ApiMapping(stack, "ApiDomainMapping", api=api, domain_name=domain, stage=stage)
    if zone := config.optional("ApiHostedZoneId"):
        route53.CfnRecordSet(
            stack,
            "ApiDomainRecord",
            hosted_zone_id=zone,
            name=name,
            type="A",
            alias_target=route53.CfnRecordSet.AliasTargetProperty(
                dns_name=domain.regional_domain_name, hosted_zone_id=domain.regional_hosted_zone_id
            ),
        )


@jsii.implements(apigw.IAccessLogSettings)
class _AccessLogs:
    def __init__(self, group: logs.ILogGroup) -> None:
        self._destination = apigw.LogGroupLogDestination(group)

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> Any:
        from aws_cdk import aws_apigateway as apigw_v1

        return apigw_v1.AccessLogFormat.custom(
            '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
            '"requestTime":"$context.requestTime","method":"$context.httpMethod","path":"$context.path",'
            '"status":"$context.status","latencyMs":"$context.responseLatency",'
            '"integrationError":"$context.integrationErrorMessage"}'
        )
