"""The bridge's real servers (nats-server with JetStream, MiniStack SQS) for the malformed-payload run."""

from tests.integration.aws.conftest import aws_env, ministack_endpoint  # noqa: F401 (fixtures)
from tests.integration.bridge.conftest import (  # noqa: F401 (fixtures)
    bridge_env,
    names,
    nats_url,
    queue_url,
    sqs,
    start_bridge,
)
