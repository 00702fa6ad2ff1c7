"""Notifications: which events are whose message, their words, the request per channel type, the signature,
and the use case's retries and refusals (in-memory ports; tests/integration/notify sends over real HTTP)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tradeengine.notifications import (
    Channel,
    ChannelError,
    build_request,
    message_text,
    parse_topics,
    topic_of,
    verify_signature,
)
from tradeengine.pipeline.events_out import MemoryOutbox, MemoryPublisher
from tradeengine.pipeline.notify import Delivery, NotifyDeps, Undeliverable, notify_message
from tradeengine.pipeline.size import MalformedMessage, RetryLater

from contracts.events import EventKind, ExecutionEvent
from tests.conftest import INFO_2021, load_info
from tests.support.memory import MemoryCounters, memory_deps
from tests.support.notify import MemoryChannels, MemoryDelivered, ScriptedSender
from tests.unit.test_events_publish import trade

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TOKEN = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
SECRET = "whsec_0123456789abcdef0123"


def channel(kind: str = "webhook", **kw: Any) -> Channel:
    base: dict[str, Any] = {
        "channel_id": f"ch_{kind}",
        "type": kind,
        "strategy_id": "momentum_v1",
        "topics": frozenset({"fills", "exits", "refusals", "protections", "errors"}),
        "target": {"telegram": "-1001234567890"}.get(kind, f"https://hooks.example.com/{kind}/T0/B0/xyz"),
        "secret": {"telegram": TOKEN, "webhook": SECRET}.get(kind, ""),
    }
    return Channel(**{**base, **kw})


@pytest.fixture(scope="module")
def events() -> list[ExecutionEvent]:
    """What a bracketed buy that fills, and a signal for a symbol no one lists, publish."""
    deps = memory_deps(load_info(INFO_2021), {"BTCUSDT": "45000"}, {"USDT": "10000"})
    deps.events, deps.outbox = MemoryPublisher(), MemoryOutbox()
    trade(deps)
    trade(deps, symbol="NOPE")
    return list(deps.events.events)


def test_only_fills_refusals_protections_and_errors_are_anyones_message(events: list[ExecutionEvent]) -> None:
    topics = [(e.kind.value, e.state, topic_of(e)) for e in events]
    assert ("fill", "FILLED", "fills") in topics
    assert ("signal.state", "REJECTED", "refusals") in topics
    quiet = [t for t in topics if t[2] is None]
    assert {t[1] for t in quiet if t[0] == "signal.state"} == {"RECEIVED", "QUEUED", "SIZED", "SUBMITTED", "FILLED"}
    assert all(t[0] != "position" or t[2] is None for t in topics)  # an open position is not news by itself


def test_a_protections_refusal_and_a_failed_signal_go_to_their_own_topics(events: list[ExecutionEvent]) -> None:
    refused = next(e for e in events if e.state == "REJECTED")
    assert topic_of(refused.model_copy(update={"code": "DAILY_LOSS_LIMIT"})) == "protections"
    assert topic_of(refused.model_copy(update={"state": "FAILED", "code": "ORDER_NOT_FOUND"})) == "errors"
    filled = next(e for e in events if e.kind is EventKind.SIGNAL_STATE and e.state == "FILLED")
    flat = filled.model_copy(update={"detail": {"protection": {"protection": "flattened", "why": "exits refused"}}})
    naked = filled.model_copy(update={"detail": {"protection": {"protection": "unprotected", "why": "x"}}})
    assert (topic_of(flat), topic_of(naked)) == ("protections", "errors")
    assert "FLATTENED" in message_text(flat, "protections") and "exits refused" in message_text(flat, "protections")


def test_an_exit_fill_and_a_closed_position_are_exits_with_the_realized_pnl(events: list[ExecutionEvent]) -> None:
    fill = next(e for e in events if e.kind is EventKind.FILL)
    exit_fill = fill.model_copy(update={"detail": {"fill": {**fill.detail["fill"], "role": "exit", "side": "SELL"}}})
    assert topic_of(exit_fill) == "exits"
    position = next(e for e in events if e.kind is EventKind.POSITION)
    closed = {**position.detail["position"], "open": False, "fills": 2, "realized_pnl": "1.25", "quantity": "0"}
    event = position.model_copy(update={"detail": {"position": closed}})
    assert topic_of(event) == "exits"
    assert "realized PnL +1.25 USDT" in message_text(event, "exits")


def test_the_text_says_strategy_symbol_side_quantity_price_and_mode(events: list[ExecutionEvent]) -> None:
    fill = next(e for e in events if e.kind is EventKind.FILL)
    text = message_text(fill, "fills")
    assert text.splitlines()[0] == "momentum_v1 · BTCUSDT [simulation]"
    got = fill.detail["fill"]
    assert f"FILL BUY {got['qty']} @ 45000 ({got['quote_qty']})" in text
    refused = next(e for e in events if e.state == "REJECTED")
    assert "refused: SYMBOL_UNKNOWN the exchange does not list NOPE" in message_text(refused, "refusals")


def test_each_channel_type_gets_its_own_request(events: list[ExecutionEvent]) -> None:
    fill = next(e for e in events if e.kind is EventKind.FILL)
    tg = build_request(channel("telegram"), fill, "hi <b>", NOW, "http://127.0.0.1:9/telegram")
    assert tg.url == f"http://127.0.0.1:9/telegram/bot{TOKEN}/sendMessage"
    assert json.loads(tg.body) == {"chat_id": "-1001234567890", "text": "hi <b>", "disable_web_page_preview": True}
    assert TOKEN not in repr(tg)  # a request never prints its secret URL
    discord = json.loads(build_request(channel("discord"), fill, "@everyone", NOW).body)
    assert discord == {"content": "@everyone", "allowed_mentions": {"parse": []}}  # free text pings no one
    slack = json.loads(build_request(channel("slack"), fill, "<!channel> & co", NOW).body)
    assert slack == {"text": "&lt;!channel&gt; &amp; co"}


def test_the_signed_webhook_verifies_and_a_tampered_or_old_one_does_not(events: list[ExecutionEvent]) -> None:
    fill = next(e for e in events if e.kind is EventKind.FILL)
    req = build_request(channel("webhook"), fill, "text", NOW)
    stamp, sig = req.headers["X-Petrosa-Timestamp"], req.headers["X-Petrosa-Signature"]
    assert sig.startswith("v1=") and stamp == str(int(NOW.timestamp()))
    assert verify_signature(SECRET, stamp, req.body, sig, NOW)
    assert not verify_signature(SECRET, stamp, req.body.replace(b"45000", b"46000"), sig, NOW)
    assert not verify_signature("another-secret-of-length", stamp, req.body, sig, NOW)
    assert not verify_signature(SECRET, stamp, req.body, sig, NOW + timedelta(minutes=6))  # a replay
    body = json.loads(req.body)
    assert body["topic"] == "fills" and body["event"]["event_id"] == fill.event_id


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"type": "slack", "target": "http://hooks.slack.com/x"}, "https://"),
        ({"type": "telegram", "target": "-100123", "secret": "not-a-token"}, "bot token"),
        ({"type": "telegram", "target": "chat", "secret": TOKEN}, "chat id"),
        ({"type": "webhook", "secret": "short"}, "signing secret"),
        ({"topics": frozenset({"fills", "gossip"})}, "gossip"),
        ({"channel_id": "x"}, "channel id"),
        ({"type": "pager"}, "channel type"),
    ],
)
def test_a_channel_the_engine_cannot_use_is_refused_with_the_rule(kw: dict[str, Any], words: str) -> None:
    with pytest.raises(ChannelError, match=words):
        channel("webhook", **kw)


def test_http_is_only_for_this_machine() -> None:
    assert channel("discord", target="http://127.0.0.1:8123/discord/x").target.startswith("http://")
    assert parse_topics("all") == frozenset({"fills", "exits", "refusals", "protections", "errors"})
    assert channel("discord").masked()["target"] == "https://hooks.example.com/…"  # the path is the secret


def deps_with(*channels: Channel, sender: ScriptedSender | None = None) -> NotifyDeps:
    return NotifyDeps(MemoryChannels(*channels), MemoryDelivered(), sender or ScriptedSender(), MemoryCounters(),
                      retry_seconds=10, clock=lambda: NOW)  # fmt: skip


def test_an_event_goes_to_the_channels_that_want_it_once(events: list[ExecutionEvent]) -> None:
    fill = next(e for e in events if e.kind is EventKind.FILL)
    other = channel("slack", channel_id="ch_other", strategy_id="mean_revert")
    exits_only = channel("discord", channel_id="ch_exits", topics=frozenset({"exits"}))
    everyone = channel("telegram", strategy_id="*")
    deps = deps_with(channel("webhook"), other, exits_only, everyone)
    out = notify_message(json.loads(fill.wire()), deps)
    assert out.topic == "fills" and set(out.sent) == {"ch_webhook", "ch_telegram"}
    again = notify_message(json.loads(fill.wire()), deps)  # SQS delivers it again
    assert again.sent == () and set(again.already) == {"ch_webhook", "ch_telegram"}
    assert len(deps.sender.requests) == 2  # type: ignore[attr-defined]
    quiet = next(e for e in events if e.state == "QUEUED")

    class Counted(MemoryChannels):
        reads = 0

        def active(self) -> list[Channel]:
            self.reads += 1
            return super().active()

    deps.channels = counted = Counted(channel("webhook"))
    assert notify_message(json.loads(quiet.wire()), deps).topic is None
    assert counted.reads == 0  # nobody's message: the channels (a table scan) are not even read
    assert notify_message(json.loads(fill.wire()), deps).topic == "fills" and counted.reads == 1


def test_a_target_that_is_down_is_retried_with_backoff_and_only_it(events: list[ExecutionEvent]) -> None:
    fill = next(e for e in events if e.kind is EventKind.FILL)
    down = [Delivery(503), Delivery(0, error="ConnectionRefusedError"), Delivery(429, retry_after_s=120)]
    sender = ScriptedSender({"https://hooks.example.com/slack": down})
    deps = deps_with(channel("webhook"), channel("slack"), sender=sender)
    waits = []
    for receive in (1, 2, 3):
        with pytest.raises(RetryLater) as caught:
            notify_message(json.loads(fill.wire()), deps, receive_count=receive)
        waits.append(caught.value.delay_s)
    assert waits == [10, 20, 120]  # doubled per delivery; at least what the target asked for
    assert notify_message(json.loads(fill.wire()), deps, receive_count=4).sent == ("ch_slack",)
    assert [r.url.split("/")[3] for r in sender.requests].count("webhook") == 1  # the webhook took it at once
    counts = deps.counters.snapshot()  # type: ignore[attr-defined]
    assert counts[("tradeengine_notifications_total", (("channel", "slack"), ("status", "retried")))] == 3


def test_a_channel_that_refuses_for_good_dead_letters_the_message_with_the_reason(
    events: list[ExecutionEvent],
) -> None:
    fill = next(e for e in events if e.kind is EventKind.FILL)
    sender = ScriptedSender({"https://hooks.example.com/discord": [Delivery(404)]})
    deps = deps_with(channel("discord"), channel("webhook"), sender=sender)
    with pytest.raises(Undeliverable, match="discord channel ch_discord \\(HTTP 404\\)"):
        notify_message(json.loads(fill.wire()), deps)
    assert isinstance(Undeliverable("x"), MalformedMessage)  # sqs_batch dead-letters it with its reason
    assert len(deps.delivered.keys) == 1  # type: ignore[attr-defined]  # the webhook's is kept: a replay skips it


def test_a_message_that_is_not_an_event_is_malformed() -> None:
    with pytest.raises(MalformedMessage, match="not an execution event: event_id"):
        notify_message({"kind": "fill"}, deps_with(channel()))
