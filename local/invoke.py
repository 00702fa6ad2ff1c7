"""``sam local invoke`` without Docker: run one function of template.yaml in-process on an event file.

    make invoke FUNCTION=SizingFunction EVENT=local/events/sqs-signal.json
    uv run python -m local.invoke ApiFunction local/events/apigw-post-signal.json

The handler is resolved from template.yaml (``CodeUri`` + ``Handler``, Globals included), imported with
the code directory and the layer's packages (layers/core, contracts) on ``sys.path`` as Lambda lays them
out, and called once with the event and a Lambda context. Its environment is the one the function has
in the running laptop stack (``make stack-up``), so it reads and writes the same tables, queues and
MongoDB; with ``--env-vars FILE`` (sam's format: ``{"FunctionName": {"VAR": "value"}}``) it is
overridden. The result is printed as JSON; an unhandled error prints sam's ``errorType/errorMessage``
shape and exits 1.

Two conveniences for the shipped sample events (``--verbatim`` turns both off): an ``authorization``
header ``Bearer REPLACE-WITH-...--scope-SCOPE`` becomes a token minted with the stack's key, and a
signal's ``timestamp`` in a body (or in a queue message's ``signal``) becomes now (a sample signal
would otherwise be STALE_SIGNAL).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import re
import sys
import time
import traceback
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"REPLACE-WITH-OUTPUT-OF-tradeengine-token--scope-([a-z:]+)")


class LambdaContext:
    """The attributes handlers (and Powertools) read from Lambda's context object."""

    def __init__(self, name: str, memory: int, timeout: int) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = datetime.now(UTC).strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def resolve(logical_id: str) -> tuple[Path, str, str, dict[str, Any]]:
    """(code dir, module, function, template props) of a template function."""
    from local.stack.package import function_property, load_template, resources

    template = load_template(ROOT / "template.yaml")
    functions = resources(template, "AWS::Serverless::Function")
    if logical_id not in functions:
        raise SystemExit(f"no function {logical_id} in template.yaml; there are: {', '.join(sorted(functions))}")
    code = ROOT / str(function_property(template, logical_id, "CodeUri"))
    module, _, func = str(function_property(template, logical_id, "Handler")).rpartition(".")
    props = {k: function_property(template, logical_id, k) for k in ("MemorySize", "Timeout")}
    return code, module, func, props


def stack_environment(logical_id: str) -> dict[str, str]:
    """The function's environment as deployed in the running laptop stack, plus the emulator endpoint."""
    from tradeengine.stores import aws

    from local.stack.services import FAKE_AWS_ENV
    from local.stack.state import State

    state = State.load()
    if not state.deploy or logical_id not in state.deploy.get("physical", {}):
        raise SystemExit("the laptop stack is not deployed: run `make stack-up` (or `make run`) first")
    endpoint = state.deploy["endpoint"]
    os.environ.update({k: v for k, v in FAKE_AWS_ENV.items() if k not in os.environ})
    lam = aws.client("lambda", endpoint_url=endpoint, region="us-east-1")
    name = state.deploy["physical"][logical_id]
    config = lam.get_function_configuration(FunctionName=name)
    env = dict(config.get("Environment", {}).get("Variables", {}))
    return {**FAKE_AWS_ENV, **env, "AWS_ENDPOINT_URL": endpoint, "AWS_LAMBDA_FUNCTION_NAME": name}


def _freshen(event: Any, secret: str | None) -> Any:
    """Sample events only: mint the stand-in token, move signal timestamps to now."""
    text = json.dumps(event)
    if secret:
        from tradeengine.api.tokens import mint

        text = PLACEHOLDER.sub(lambda m: mint(secret, "local-invoke", [m.group(1)], 600), text)
    fresh = json.loads(text)
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    for holder in _bodies(fresh):
        try:
            body = json.loads(holder["body"])
        except (TypeError, ValueError):
            continue
        if not isinstance(body, dict):
            continue
        for signal in (body, body.get("signal")):  # an API body is the signal; a queue body wraps it
            if isinstance(signal, dict) and "timestamp" in signal:
                signal["timestamp"] = now
        holder["body"] = json.dumps(body, separators=(",", ":"))
    return fresh


def _bodies(event: Any) -> list[dict[str, Any]]:
    if not isinstance(event, dict):
        return []
    found = [event] if isinstance(event.get("body"), str) else []
    for record in event.get("Records", []) or []:
        if isinstance(record, dict) and isinstance(record.get("body"), str):
            found.append(record)
    return found


def invoke(logical_id: str, event: Any, env: dict[str, str]) -> Any:
    code, module, func, props = resolve(logical_id)
    os.environ.update(env)
    for path in (ROOT, ROOT / "layers" / "core", code):  # last inserted wins: code dir, then the layer
        sys.path.insert(0, str(path))
    context = LambdaContext(env.get("AWS_LAMBDA_FUNCTION_NAME", logical_id), int(props["MemorySize"] or 128),
                            int(props["Timeout"] or 3))  # fmt: skip
    # As sam local invoke: the function's logs (and EMF lines) on stderr, only the result on stdout.
    with contextlib.redirect_stdout(sys.stderr):
        handler = getattr(importlib.import_module(module), func)
        return handler(event, context)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.invoke", description=__doc__.splitlines()[0])
    parser.add_argument("function", help="logical id in template.yaml, e.g. SizingFunction")
    parser.add_argument("event", help="event JSON file, e.g. local/events/sqs-signal.json")
    parser.add_argument("--env-vars", help="JSON overrides, sam's format {FunctionName: {VAR: value}}")
    parser.add_argument("--verbatim", action="store_true", help="send the event exactly as written")
    args = parser.parse_args(argv)

    env = stack_environment(args.function)
    if args.env_vars:
        overrides = json.loads(Path(args.env_vars).read_text())
        chosen = {**overrides.get("Parameters", {}), **overrides.get(args.function, {})}
        env.update({k: str(v) for k, v in chosen.items()})
    event = json.loads(Path(args.event).read_text())
    if not args.verbatim:
        event = _freshen(event, env.get("JWT_SECRET_KEY") or _stack_secret())
    started = time.monotonic()
    try:
        result = invoke(args.function, event, env)
    except Exception as exc:
        print(json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc),
                          "stackTrace": traceback.format_exc().splitlines()}, indent=2))  # fmt: skip
        return 1
    print(json.dumps(result, indent=2, default=str))
    print(f"REPORT {args.function} Duration: {(time.monotonic() - started) * 1000:.0f} ms", file=sys.stderr)
    return 0


def _stack_secret() -> str | None:
    from local.stack.state import State

    return State.load().jwt_secret()


if __name__ == "__main__":
    sys.exit(main())
