"""Move messages from a dead-letter queue back to its source FIFO queue, after the cause is fixed.

Independent of the engine (boto3 only), so an operator can run it from anywhere with queue access:

    python tests/chaos/replay_dlq.py --dlq URL --to URL [--dry-run] [--max N] [--endpoint-url URL]

Each message keeps its body and MessageGroupId; its MessageDeduplicationId is the signal id when the body
names one (the pipeline is idempotent per signal id, so a replay never places a second order). Messages
the engine put there as unreadable (a ``reason`` attribute) are listed and left alone: replaying them
cannot make them readable. A message is deleted from the DLQ only after the source queue accepted it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from typing import Any


def dedup_id(body: str) -> str:
    try:
        sid = json.loads(body).get("signal_id")
    except (ValueError, AttributeError):
        sid = None
    return str(sid) if isinstance(sid, str) and sid else hashlib.sha256(body.encode()).hexdigest()


def replay(sqs: Any, dlq: str, to: str, *, dry_run: bool, limit: int) -> tuple[int, int]:
    moved = skipped = 0
    seen: set[str] = set()
    while moved + skipped < limit:
        got = sqs.receive_message(
            QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=60,
            AttributeNames=["All"], MessageAttributeNames=["All"],
        ).get("Messages", [])  # fmt: skip
        fresh = [m for m in got if m["MessageId"] not in seen]
        if not fresh:
            break
        for m in fresh:
            seen.add(m["MessageId"])
            reason = m.get("MessageAttributes", {}).get("reason", {}).get("StringValue")
            group = m.get("Attributes", {}).get("MessageGroupId", "replay")
            if reason:
                print(f"left (unreadable: {reason}): {m['Body'][:120]!r}")
                skipped += 1
                continue
            print(f"{'would replay' if dry_run else 'replay'} group={group} dedup={dedup_id(m['Body'])}")
            if not dry_run:
                sqs.send_message(
                    QueueUrl=to, MessageBody=m["Body"], MessageGroupId=group, MessageDeduplicationId=dedup_id(m["Body"])
                )
                sqs.delete_message(QueueUrl=dlq, ReceiptHandle=m["ReceiptHandle"])
            moved += 1
    return moved, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dlq", required=True, help="the dead-letter queue URL (…-dlq.fifo)")
    parser.add_argument("--to", required=True, help="the source queue URL (signals.fifo or orders.fifo)")
    parser.add_argument("--dry-run", action="store_true", help="list what would move, move nothing")
    parser.add_argument("--max", type=int, default=1000, help="at most this many messages (default 1000)")
    parser.add_argument("--endpoint-url", help="an emulator (MiniStack / LocalStack)")
    args = parser.parse_args(argv)
    import boto3

    sqs = boto3.client("sqs", endpoint_url=args.endpoint_url)
    moved, skipped = replay(sqs, args.dlq, args.to, dry_run=args.dry_run, limit=args.max)
    print(f"{'would replay' if args.dry_run else 'replayed'} {moved}, left {skipped} unreadable")
    return 0


if __name__ == "__main__":
    sys.exit(main())
