"""What a dead-lettered message carries: the reason, the field errors, where it came from, its bytes.

The dead-letter stream dedups on ``Nats-Msg-Id`` = source stream + sequence, so a message that is
dead-lettered again after a crash (published, not yet terminated) is stored once.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

KEEP_BYTES = 16 * 1024  # enough to see what was sent, without copying a huge payload whole
REASON_HEADER = "Petrosa-Reason"


def dead_letter(
    data: bytes,
    reason: str,
    errors: list[dict[str, str]],
    *,
    subject: str,
    stream: str | None,
    sequence: int | None,
    delivered: int | None,
    received_at: datetime,
) -> tuple[bytes, dict[str, str]]:
    body: dict[str, Any] = {
        "reason": reason,
        "errors": errors,
        "subject": subject,
        "stream": stream,
        "stream_sequence": sequence,
        "num_delivered": delivered,
        "received_at": received_at.isoformat(),
        "payload_bytes": len(data),
        "payload_truncated": len(data) > KEEP_BYTES,
        "payload_b64": base64.b64encode(data[:KEEP_BYTES]).decode(),
    }
    headers = {REASON_HEADER: " ".join(reason.split())[:256]}
    if stream is not None and sequence is not None:
        headers["Nats-Msg-Id"] = f"{stream}-{sequence}"
    return json.dumps(body, separators=(",", ":")).encode(), headers
