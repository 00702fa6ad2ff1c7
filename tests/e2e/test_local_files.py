"""Offline checks of the laptop stack's files: sample events carry real message shapes, the Docker route
parses and stays on 127.0.0.1 with pinned images, mk/stack.mk points at modules that exist."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from tradeengine.stores.queues import message_body

from contracts import OrderPlan, Signal
from local.stack.package import function_property, load_template, resources

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "local" / "events"


def _records(name: str) -> list[dict[str, object]]:
    return json.loads((EVENTS / name).read_text())["Records"]


def test_sizing_event_is_an_sqs_fifo_record_carrying_a_signal_message() -> None:
    (record,) = _records("sqs-signal.json")
    attrs = record["attributes"]
    assert record["eventSource"] == "aws:sqs" and str(record["eventSourceARN"]).endswith("-signals.fifo")
    body = json.loads(str(record["body"]))
    signal = Signal.model_validate(body["signal"])
    assert attrs["MessageGroupId"] == signal.symbol and attrs["MessageDeduplicationId"] == body["signal_id"]
    assert message_body(body) == record["body"]  # byte-for-byte what the api function enqueues


def test_execution_event_carries_an_order_plan() -> None:
    (record,) = _records("sqs-order-plan.json")
    assert str(record["eventSourceARN"]).endswith("-orders.fifo")
    body = json.loads(str(record["body"]))
    plan = OrderPlan.model_validate(body["plan"])
    assert plan.signal_id == body["signal_id"] == record["attributes"]["MessageDeduplicationId"]


def test_monitor_event_is_a_scheduled_event() -> None:
    event = json.loads((EVENTS / "schedule-monitor.json").read_text())
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"


def test_every_template_function_resolves_to_a_handler_file() -> None:
    template = load_template(ROOT / "template.yaml")
    for logical_id in resources(template, "AWS::Serverless::Function"):
        code = ROOT / str(function_property(template, logical_id, "CodeUri"))
        module, _, func = str(function_property(template, logical_id, "Handler")).rpartition(".")
        source = (code / f"{module.replace('.', '/')}.py").read_text()
        assert f"def {func}" in source or f"{func} =" in source, logical_id


def test_docker_compose_pins_images_and_publishes_on_loopback_only() -> None:
    compose = yaml.safe_load((ROOT / "local" / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"localstack", "nats", "mongodb"}
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image ({image})"
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
        assert "healthcheck" in service, name
    assert "-js" in services["nats"]["command"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in services["localstack"]["volumes"]
