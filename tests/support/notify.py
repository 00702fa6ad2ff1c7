"""In-memory doubles of the notifier's ports (``pipeline.notify``), for unit tests of its logic."""

from __future__ import annotations

from collections.abc import Sequence

from tradeengine.notifications import Channel, HttpRequest
from tradeengine.pipeline.notify import Delivery


class MemoryChannels:
    def __init__(self, *channels: Channel) -> None:
        self.channels = list(channels)

    def active(self) -> list[Channel]:
        return [c for c in self.channels if c.disabled_at is None]


class MemoryDelivered:
    def __init__(self) -> None:
        self.keys: set[str] = set()

    def seen(self, keys: Sequence[str]) -> set[str]:
        return self.keys & set(keys)

    def mark(self, key: str) -> None:
        self.keys.add(key)


class ScriptedSender:
    """Answers each request with the next status of its URL's script (then 200), and keeps the requests."""

    def __init__(self, scripts: dict[str, list[Delivery]] | None = None) -> None:
        self.scripts = scripts or {}
        self.requests: list[HttpRequest] = []

    def post(self, request: HttpRequest) -> Delivery:
        self.requests.append(request)
        for prefix, script in self.scripts.items():
            if request.url.startswith(prefix) and script:
                return script.pop(0)
        return Delivery(200)
