"""NATS (JetStream) → SQS FIFO bridge: a long-running service, run with ``python -m functions.bridge``."""
