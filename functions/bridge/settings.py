"""The bridge's settings: the engine's one Settings model, plus what only the bridge reads.

Subclassing keeps one model per process (NATS_SERVERS, NATS_SIGNAL_SUBJECT and SIGNALS_QUEUE_URL keep
the names the rest of the engine uses) while the bridge-only knobs carry a ``BRIDGE_`` or ``NATS_`` name.
"""

from __future__ import annotations

import ssl

from pydantic import Field, SecretStr, model_validator
from tradeengine.config import Settings

SQS_MAX_BATCH = 10  # SendMessageBatch takes at most 10 entries


class BridgeSettings(Settings):
    # NATS connection (NATS_SERVERS: comma-separated URLs; the client fails over between them)
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_token: SecretStr | None = None
    nats_creds_file: str | None = None  # a .creds file (JWT + nkey seed), e.g. a mounted Secret
    nats_tls_ca_file: str | None = None
    nats_tls_cert_file: str | None = None
    nats_tls_key_file: str | None = None
    nats_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    nats_reconnect_wait_seconds: float = Field(default=2.0, gt=0)

    # JetStream objects
    nats_stream: str = "SIGNALS"
    nats_durable: str = "petrosa-bridge"
    nats_duplicate_window_seconds: float = Field(default=120.0, ge=120.0)  # Nats-Msg-Id dedup window
    nats_stream_max_age_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)
    nats_dead_letter_subject: str = "signals.dead_letter"
    nats_dead_letter_stream: str = "SIGNALS_DEAD_LETTER"
    nats_request_subject: str | None = None  # core-NATS request/reply; default "<NATS_SIGNAL_SUBJECT>.request"
    # Execution events back out (functions/bridge/executions.py): the SQS FIFO queue subscribed to the
    # ExecutionEventsTopic; unset, the bridge relays none
    bridge_executions_queue_url: str | None = None
    nats_executions_stream: str = "EXECUTIONS"  # over <NATS_EXECUTIONS_PREFIX>.>
    nats_executions_prefix: str = "executions"  # subjects <prefix>.<strategy_id>.<symbol>

    # Flow
    bridge_fetch_batch: int = Field(default=200, ge=1, le=1000)
    bridge_fetch_timeout_seconds: float = Field(default=1.0, gt=0)
    bridge_sqs_batch: int = Field(default=SQS_MAX_BATCH, ge=1, le=SQS_MAX_BATCH)
    bridge_max_in_flight: int = Field(default=8, ge=1, le=64)  # SendMessageBatch calls at once
    bridge_max_ack_pending: int = Field(default=2000, ge=1)  # backpressure: JetStream stops delivering beyond
    bridge_ack_wait_seconds: float = Field(default=30.0, gt=1)
    bridge_nak_delay_seconds: float = Field(default=5.0, ge=0)
    bridge_max_payload_bytes: int = Field(default=64 * 1024, ge=512, le=256 * 1024)  # SQS caps a body at 256 KiB
    bridge_drain_timeout_seconds: float = Field(default=20.0, gt=0)
    bridge_sqs_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    bridge_sqs_read_timeout_seconds: float = Field(default=10.0, gt=0)
    bridge_sqs_max_attempts: int = Field(default=3, ge=1)
    bridge_sqs_probe_seconds: float = Field(default=2.0, gt=0)

    # HTTP: /metrics /livez /readyz (0.0.0.0 inside a pod; loopback on a laptop)
    bridge_http_host: str = "127.0.0.1"
    bridge_http_port: int = Field(default=9090, ge=0, le=65535)

    @model_validator(mode="after")
    def _check(self) -> BridgeSettings:
        if not self.signals_queue_url:
            raise ValueError("SIGNALS_QUEUE_URL is required: the bridge sends every signal to signals.fifo")
        if self.nats_dead_letter_subject == self.nats_signal_subject:
            raise ValueError("NATS_DEAD_LETTER_SUBJECT must differ from NATS_SIGNAL_SUBJECT")
        if self.nats_user and self.nats_creds_file:
            raise ValueError("give NATS_USER/NATS_PASSWORD or NATS_CREDS_FILE, not both")
        return self

    @property
    def servers(self) -> list[str]:
        return [s.strip() for s in self.nats_servers.split(",") if s.strip()]

    @property
    def request_subject(self) -> str:
        return self.nats_request_subject or f"{self.nats_signal_subject}.request"

    @property
    def queue_url(self) -> str:
        assert self.signals_queue_url is not None  # checked in _check
        return self.signals_queue_url

    def tls_context(self) -> ssl.SSLContext | None:
        if not (self.nats_tls_ca_file or self.nats_tls_cert_file or any(s.startswith("tls://") for s in self.servers)):
            return None
        context = ssl.create_default_context(cafile=self.nats_tls_ca_file)
        if self.nats_tls_cert_file:
            context.load_cert_chain(self.nats_tls_cert_file, self.nats_tls_key_file)
        return context
