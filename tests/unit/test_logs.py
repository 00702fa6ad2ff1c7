"""Logs: JSON lines from every module logger, with every known secret masked, by the one redactor."""

from __future__ import annotations

import io
import json
import logging

from pydantic import SecretStr
from tradeengine import logs
from tradeengine.config import Settings


def test_secret_settings_never_reach_the_logs(log_output: io.StringIO) -> None:
    jwt, api_secret, mongo_password = 'jwt-"quoted"-s3cret', "binance-secret-0123456789", "m0ngo-pa55"
    mongo_url = f"mongodb://auditor:{mongo_password}@db.example:27017/petrosa"
    settings = Settings(jwt_secret_key=jwt, binance_api_secret=api_secret, mongodb_url=mongo_url)
    logs.configure(settings)

    logs.logger.info("token key is %s", jwt)
    logs.logger.info("signing", extra={"secret": api_secret, "url": mongo_url})
    logging.getLogger("tradeengine.pipeline.recorder").warning("connecting with password %s", mongo_password)
    try:
        raise RuntimeError(f"auth failed for {mongo_url}")
    except RuntimeError:
        logs.logger.exception("audit store down")
    logs.logger.info("unrelated url redis://user:hunter2-pw@cache:6379/0")

    text = log_output.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 5  # module loggers under `tradeengine` go through the same JSON handler
    for secret in (jwt, json.dumps(jwt)[1:-1], api_secret, mongo_password, "hunter2-pw"):
        assert secret not in text
    assert logs.REDACTED in lines[0]["message"]
    assert lines[1]["secret"] == logs.REDACTED
    assert lines[1]["url"] == logs.REDACTED  # MONGODB_URL is a secret setting as a whole
    assert "redis://user:***@cache:6379/0" in text  # any URL's password; the user name helps the operator
    assert lines[3]["exception_name"] == "RuntimeError"


def test_redacting_filter_masks_plain_handlers_too() -> None:
    logs.add_secret(SecretStr("plain-handler-secret"))
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(logs.RedactingFilter())
    plain = logging.getLogger("test.logs.plain")
    plain.propagate = False
    plain.addHandler(handler)
    try:
        plain.warning("value=%s", "plain-handler-secret")
        try:
            raise ValueError("plain-handler-secret")
        except ValueError:
            plain.exception("failed")
    finally:
        plain.removeHandler(handler)
    assert "plain-handler-secret" not in buffer.getvalue()
    assert buffer.getvalue().count(logs.REDACTED) >= 2  # the message and the exception (and its source line)


def test_one_redactor_masks_text_and_bodies_with_the_callers_mask() -> None:
    redactor = logs.SecretRedactor()
    redactor.add("outer-secret-with-inner", "inner", "ab")  # "ab": too short to mask anything
    body = {"error": {"message": "outer-secret-with-inner failed", "details": [{"inner": "x ab"}]}}
    assert redactor.deep(body, mask="[redacted]") == {
        "error": {"message": "[redacted] failed", "details": [{"[redacted]": "x ab"}]}
    }  # longest first: the outer secret is replaced whole, not around its inner part
    assert redactor("db mongodb://u:pw-1234@h/x") == "db mongodb://u:***@h/x"
