"""Powertools idempotency in front of execution, keyed by the signal id (not the SQS message id).

A redelivered plan within the window returns the stored outcome without touching the exchange; a
concurrent duplicate finds the record IN_PROGRESS and fails its batch item, to be retried after the
first finishes. An attempt that raises (RetryLater) deletes its record, so the retry runs for real.
The payload check (the plan's order) refuses the same signal id with a different order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, is_dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradeengine.config import Settings

KEY_PREFIX = "tradeengine-execution"
WINDOW_SECONDS = 24 * 3600


class OncePerSignal:
    def __init__(self, settings: Settings, fn: Callable[[Mapping[str, Any]], object], ddb_client: Any = None) -> None:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        from tradeengine.stores import aws

        self._config = IdempotencyConfig(
            event_key_jmespath="signal_id",
            payload_validation_jmespath="plan.order",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=WINDOW_SECONDS,
        )
        persistence = DynamoDBPersistenceLayer(
            table_name=settings.idempotency_table, boto3_client=ddb_client or aws.client("dynamodb")
        )

        @idempotent_function(  # type: ignore[untyped-decorator]
            data_keyword_argument="body", persistence_store=persistence, config=self._config, key_prefix=KEY_PREFIX
        )
        def run(body: dict[str, Any]) -> dict[str, Any]:
            result = fn(body)
            if is_dataclass(result) and not isinstance(result, type):
                return {k: (v.value if hasattr(v, "value") else v) for k, v in asdict(result).items()}
            return {"result": None if result is None else str(result)}

        self._run = run

    def register_lambda_context(self, context: Any) -> None:
        self._config.register_lambda_context(context)

    def __call__(self, body: Mapping[str, Any]) -> object:
        return self._run(body=dict(body))


def once_per_signal(settings: Settings, fn: Callable[[Mapping[str, Any]], object]) -> OncePerSignal:
    return OncePerSignal(settings, fn)
