"""The logger, and the one redactor that keeps secrets out of log lines and the API's error bodies.

- ``logger`` is powertools' JSON Logger for service ``tradeengine``. That is also the package's name,
  so every module's plain ``logging.getLogger(__name__)`` (``tradeengine.pipeline.recorder`` ...) flows
  through the same handler, JSON and redacted alike.
- ``redactor`` masks, in the final text, the value of every secret setting (``SecretStr`` fields: JWT key,
  Binance key/secret, MongoDB URL and its password), any value added with ``add_secret`` (e.g. keys
  loaded from Secrets Manager), and the password of any ``scheme://user:password@`` URL. Log lines get
  ``***``; the API passes its error bodies through the same instance with its own mask
  (``api/errors.py``), so a secret learned by either path is masked in both.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from pydantic import SecretStr

if TYPE_CHECKING:
    from tradeengine.config import Settings

SERVICE = "tradeengine"
REDACTED = "***"
_MIN_SECRET_LEN = 4  # masking "a" or "x1" everywhere would destroy logs and protect nothing
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]+:)[^\s@/]+@")


class SecretRedactor:
    """Masks known secret values (raw and JSON-escaped) and URL passwords in text, or in a JSON-like value."""

    def __init__(self) -> None:
        self._values: tuple[str, ...] = ()  # longest first: a URL is replaced before its password
        self._lock = threading.Lock()
        self.settings_loaded = False

    def add(self, *values: str | SecretStr | None) -> None:
        with self._lock:
            known = set(self._values)
            for value in values:
                raw = value.get_secret_value() if isinstance(value, SecretStr) else value
                if not raw or len(raw) < _MIN_SECRET_LEN:
                    continue
                known.add(raw)
                known.add(json.dumps(raw)[1:-1])  # as it appears inside a JSON log line
                if match := _URL_PASSWORD.search(raw):  # the password alone may show up elsewhere
                    password = raw[match.end("head") : match.end() - 1]
                    if len(password) >= _MIN_SECRET_LEN:
                        known.add(password)
            # a new tuple, swapped in whole: a log line formatted meanwhile reads the old one or this one
            self._values = tuple(sorted(known, key=len, reverse=True))

    def add_settings(self, settings: Settings) -> None:
        self.add(*(v for v in vars(settings).values() if isinstance(v, SecretStr)))
        self.settings_loaded = True

    def __call__(self, text: str, mask: str = REDACTED) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, mask)
        return _URL_PASSWORD.sub(lambda m: f"{m['head']}{mask}@", text)

    def deep(self, value: Any, mask: str = REDACTED) -> Any:
        """Every string in a JSON-like value, keys included, masked (an error body before it is sent)."""
        if isinstance(value, str):
            return self(value, mask)
        if isinstance(value, Mapping):
            return {self(str(k), mask): self.deep(v, mask) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(v, mask) for v in value]
        return value


redactor = SecretRedactor()


def add_secret(*values: str | SecretStr | None) -> None:
    """Mask these values in every log line and error body from now on (secrets loaded at run time)."""
    redactor.add(*values)


def _load_settings_secrets() -> None:
    """The secret settings, read once, lazily: logging works even before ``configure`` is called."""
    if redactor.settings_loaded:
        return
    redactor.settings_loaded = True
    try:
        from tradeengine.config import get_settings

        redactor.add_settings(get_settings())
    except Exception:  # invalid environment: the process fails at start anyway, with its own message
        return


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter whose finished line has every known secret masked."""

    def format(self, record: logging.LogRecord) -> str:
        _load_settings_secrets()
        return redactor(super().format(record))


class RedactingFilter(logging.Filter):
    """For plain logging handlers (a CLI, uvicorn): masks secrets in the message and the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        _load_settings_secrets()
        record.msg = redactor(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redactor(record.exc_text)
        return True


logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())


def configure(settings: Settings) -> None:
    """Apply the validated settings: log level, and the secrets to mask (called once per process)."""
    redactor.add_settings(settings)
    logger.setLevel(settings.log_level)
