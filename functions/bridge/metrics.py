"""The bridge's Prometheus metrics, created once, on its own /metrics (the seed's name for the message counter).

The bridge counts in this process's registry, not in the engine's shared counters: the API's /metrics
does not show these (docs/BRIDGE.md).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PROCESSED = Counter(
    "tradeengine_nats_messages_processed",
    "NATS signal messages by outcome: accepted (in SQS, acked), invalid (dead-lettered), failed (nak'ed)",
    ["status"],
)
SQS_SEND_SECONDS = Histogram(
    "tradeengine_bridge_sqs_send_seconds",
    "SendMessageBatch latency",
    ["result"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SQS_BATCH_SIZE = Histogram(
    "tradeengine_bridge_sqs_batch_size", "Entries per SendMessageBatch call", buckets=(1, 2, 4, 6, 8, 10)
)
FETCH_BATCH_SIZE = Histogram(
    "tradeengine_bridge_fetch_batch_size",
    "Messages per JetStream fetch",
    buckets=(1, 5, 10, 25, 50, 100, 200, 500, 1000),
)
CONSUMER_PENDING = Gauge("tradeengine_bridge_consumer_pending", "Messages in the stream not yet delivered")
CONSUMER_ACK_PENDING = Gauge("tradeengine_bridge_consumer_ack_pending", "Delivered, not yet acknowledged")
IN_FLIGHT = Gauge("tradeengine_bridge_sqs_in_flight", "SendMessageBatch calls in flight")
READY = Gauge("tradeengine_bridge_ready", "1 when NATS and SQS are both reachable")
REPLIES = Counter("tradeengine_bridge_requests", "Core-NATS requests answered, by result", ["result"])
EXECUTIONS_RELAYED = Counter("tradeengine_bridge_executions_relayed_total", "Execution events published on JetStream")
EXECUTIONS_UNREADABLE = Counter(
    "tradeengine_bridge_executions_unreadable_total", "Execution event messages not in the schema (deleted)"
)
EXECUTIONS_FAILED = Counter(
    "tradeengine_bridge_executions_publish_failures_total", "JetStream publishes of execution events that failed"
)
