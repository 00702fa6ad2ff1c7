"""The HTTP API's optional custom domain (TLS with an ACM certificate): off by default, the same in
template.yaml and the CDK app when on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from infra.config import StackConfig, load_template, parameter_values

SAM = load_template()
CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
DOMAIN = {"ApiDomainName": "api.example.com", "ApiCertificateArn": CERT, "ApiHostedZoneId": "Z0123456789ABCDEFGHIJ"}


def _synth(tmp_path: Path, **params: str) -> dict[str, Any]:
    from aws_cdk import App, Validations, assertions
    from cdk_nag import AwsSolutionsChecks

    from infra.nag import acknowledge
    from infra.stack import TradeEngineStack

    app = App(outdir=str(tmp_path), context={"aws:cdk:bundling-stacks": []})
    config = StackConfig("prod", {**parameter_values("prod"), **params})
    stack = TradeEngineStack(app, "domain-test", config=config, stack_name="domain-test")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    acknowledge(stack)
    app.synth()  # cdk-nag findings fail here
    return dict(assertions.Template.from_stack(stack).to_json())


def _of_type(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def test_the_template_declares_the_domain_off_by_default() -> None:
    for name in DOMAIN:
        assert SAM["Parameters"][name]["Default"] == ""
    resources = SAM["Resources"]
    assert resources["ApiDomain"]["Condition"] == resources["ApiDomainMapping"]["Condition"] == "HasApiDomain"
    assert resources["ApiDomainRecord"]["Condition"] == "HasApiDomainRecord"
    assert SAM["Conditions"]["HasApiDomain"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ApiDomainName"}, ""]}]}
    (config,) = resources["ApiDomain"]["Properties"]["DomainNameConfigurations"]
    assert config == {
        "CertificateArn": {"Ref": "ApiCertificateArn"},
        "EndpointType": "REGIONAL",
        "SecurityPolicy": "TLS_1_2",
    }
    mapping = resources["ApiDomainMapping"]["Properties"]
    assert (mapping["ApiId"], mapping["Stage"]) == ({"Ref": "HttpApi"}, "$default")


def test_the_cdk_app_has_no_domain_by_default(tmp_path: Path) -> None:
    template = _synth(tmp_path)
    assert _of_type(template, "AWS::ApiGatewayV2::DomainName") == []
    assert _of_type(template, "AWS::Route53::RecordSet") == []


def test_the_cdk_app_serves_the_api_at_its_domain_over_tls_when_asked(tmp_path: Path) -> None:
    template = _synth(tmp_path, **DOMAIN)
    (domain,) = _of_type(template, "AWS::ApiGatewayV2::DomainName")
    assert domain["Properties"]["DomainName"] == "api.example.com"
    (config,) = domain["Properties"]["DomainNameConfigurations"]
    assert (config["CertificateArn"], config["EndpointType"], config["SecurityPolicy"]) == (CERT, "REGIONAL", "TLS_1_2")
    (mapping,) = _of_type(template, "AWS::ApiGatewayV2::ApiMapping")
    assert mapping["Properties"]["Stage"] == "$default"
    (record,) = _of_type(template, "AWS::Route53::RecordSet")
    assert (record["Properties"]["Name"], record["Properties"]["Type"]) == ("api.example.com", "A")
    assert record["Properties"]["HostedZoneId"] == DOMAIN["ApiHostedZoneId"]


def test_a_domain_without_a_certificate_is_refused_at_synth(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ApiCertificateArn"):
        _synth(tmp_path, ApiDomainName="api.example.com")
