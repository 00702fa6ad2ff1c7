"""Start, deploy, stop: the laptop stack as one object over ``.local-stack/state.json``.

``up`` reuses every server whose recorded PID still runs it and starts the others on free ports (in
parallel: the uv tool environments take the longest the first time), deploys template.yaml, then
starts the bridge against the deployed signals queue and the API proxy in front of the deployed HTTP API
(``http://127.0.0.1:${API_PORT:-8000}``, see ``local.stack.api_proxy``). ``down`` stops each recorded PID's group.
If AWS_ENDPOINT_URL names an AWS emulator already running (e.g. LocalStack), it is used instead of
MiniStack.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from local.stack import procs, services
from local.stack.deploy import deploy
from local.stack.state import State

Step = Callable[[str, str], None]  # (part, what is happening) for a progress display


def _quiet(_part: str, _msg: str) -> None:
    return None


@dataclass
class Endpoints:
    aws: str
    api: str  # http://127.0.0.1:${API_PORT:-8000}: the deployed HTTP API, where users send signals
    api_stage: str  # the same stage at the emulator: http://127.0.0.1:PORT/_aws/execute-api/{apiId}/$default
    nats: str
    mongo: str
    exchange: str
    sink: str  # local/sink.py: what the notifier sent (GET /received); Telegram's API at /telegram
    bridge: str
    functions: dict[str, str]  # logical id -> deployed function name
    jwt_secret: str


def _external_aws() -> str | None:
    url = os.environ.get("AWS_ENDPOINT_URL", "").strip()
    return url.rstrip("/") or None


def _ensure(state: State, name: str, ctx: dict[str, str], step: Step) -> None:
    service = services.SERVICES[name]
    if state.running(name) and service.ready(state.servers[name]["ports"]):
        step(name, f"reused {state.url(name)} (pid {state.servers[name]['pid']})")
        return
    if name in state.servers:  # recorded but gone or unhealthy: stop what is left of it, start afresh
        procs.stop(state.servers[name].get("pid"), service.marker)
    step(name, "starting")
    record = services.start(service, state.root / name, ctx)
    state.servers[name] = record
    ports: dict[str, int] = record["ports"]  # type: ignore[assignment]  # services.start writes a port map
    if not procs.wait_until(lambda: service.ready(ports), service.timeout, pid=int(str(record["pid"]))):
        tail = procs.tail(state.root / name / f"{name}.log")
        procs.stop(int(str(record["pid"])), service.marker)
        raise RuntimeError(f"{name} did not become ready in {service.timeout:.0f}s:\n{tail}")
    step(name, f"ready {record['url']} (pid {record['pid']})")


def stack_parameters(state: State) -> dict[str, str]:
    """template.yaml's parameters on the laptop: paper exchange priced by the local exchange, the local
    MongoDB for the audit trail, this stack's own JWT key (no Secrets Manager)."""
    return {
        "Environment": "local",
        "SimulationEnabled": "true",
        "MarketDataUrl": state.url("exchange"),
        "MongoDbUrl": state.url("secantusdb"),
        "JwtSecretKey": state.jwt_secret(),
        # the notifier's Telegram channels post to the local sink, which records them (GET /received)
        "TelegramApiUrl": f"{state.url('sink')}/telegram",
    }


def up(step: Step = _quiet, redeploy: bool = False) -> Endpoints:
    state = State.load()
    state.root.mkdir(parents=True, exist_ok=True)
    os.environ.update({k: v for k, v in services.FAKE_AWS_ENV.items() if k not in os.environ})
    external = _external_aws()
    names = [n for n in services.SERVERS if not (external and n == "ministack")]
    try:
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            for future in [pool.submit(_ensure, state, n, {}, step) for n in names]:
                future.result()
    finally:
        state.save()
    aws = external or state.url("ministack")

    step("deploy", f"template.yaml -> CloudFormation (SAM transform) at {aws}")
    previous = None if redeploy else state.deploy
    state.deploy = deploy(aws, state.root / "build", stack_parameters(state), previous=previous)
    state.save()
    d = state.deploy
    step("deploy", ("unchanged, reused" if d.get("reused") else f"{d['status']} in {d['seconds']}s")
         + (f"; HTTP API routes added: {', '.join(d['routes_added'])}" if d.get("routes_added") else ""))  # fmt: skip

    ctx = {"aws_endpoint": aws, "nats_url": state.url("nats"), "signals_queue_url": d["outputs"]["SignalsQueueUrl"]}
    ctx["executions_queue_url"] = _executions_queue(aws, d["outputs"])
    bridge = state.servers.get("bridge", {})
    queues = (bridge.get("queue"), bridge.get("executions_queue"))
    if queues != (ctx["signals_queue_url"], ctx["executions_queue_url"]) and state.running("bridge"):
        procs.stop(bridge.get("pid"), services.SERVICES["bridge"].marker)  # its queue changed
    try:
        _ensure(state, "bridge", ctx, step)
        state.servers["bridge"]["queue"] = ctx["signals_queue_url"]
        state.servers["bridge"]["executions_queue"] = ctx["executions_queue_url"]
        _ensure_api(state, api_stage(d), step)
    finally:
        state.save()
    return endpoints(state)


def _executions_queue(aws: str, outputs: dict[str, Any]) -> str:
    """The FIFO queue the bridge relays execution events from, subscribed to the deployed topic (as an
    operator subscribes one on AWS, docs/BRIDGE.md); '' when the deployed template has no topic."""
    topic = outputs.get("ExecutionEventsTopicArn")
    if not topic:
        return ""
    from tradeengine.stores import aws as clients
    from tradeengine.stores.events import subscribe_queue

    sns, sqs = (clients.client(s, endpoint_url=aws, region="us-east-1") for s in ("sns", "sqs"))
    return subscribe_queue(sns, sqs, topic, str(topic).rsplit(":", 1)[-1].removesuffix(".fifo") + "-bridge")


def api_stage(deployed: dict[str, Any]) -> str:
    """The HTTP API's $default stage by path at the emulator (MiniStack's and LocalStack's form).

    By path rather than by ``{apiId}.execute-api.localhost`` host: MiniStack answers ``/health`` on every
    host itself, and not every resolver knows ``*.localhost``."""
    api_id = deployed["outputs"]["ApiUrl"].split("://", 1)[1].split(".", 1)[0]
    return f"{deployed['endpoint']}/_aws/execute-api/{api_id}/$default"


def _ensure_api(state: State, stage: str, step: Step) -> None:
    """The API proxy on API_PORT (default 8000) in front of ``stage``; a clear error if the port is taken."""
    record = state.servers.get("api", {})
    wanted = services.api_port()
    if state.running("api") and (record.get("upstream") != stage or wanted not in (0, record["ports"]["main"])):
        procs.stop(record.get("pid"), services.SERVICES["api"].marker)  # another stage or another port
    if not state.running("api") and wanted and not services.port_free(wanted):
        raise RuntimeError(
            f"port {wanted} is taken by another program, so the HTTP API cannot be served at "
            f"http://127.0.0.1:{wanted}. Stop that program, or choose another port: API_PORT={wanted + 1} make run"
        )
    _ensure(state, "api", {"api_stage": stage}, step)
    state.servers["api"]["upstream"] = stage


def endpoints(state: State | None = None) -> Endpoints:
    state = state or State.load()
    d = state.deploy
    if not d:
        raise RuntimeError("the stack is not deployed: run `make run` (or python -m local.stack up)")
    functions = {k: v for k, v in d["physical"].items() if d["types"].get(k) == "AWS::Serverless::Function"}
    return Endpoints(
        aws=d["endpoint"],
        api=state.url("api") if "api" in state.servers else "",
        api_stage=api_stage(d),
        nats=state.url("nats"),
        mongo=state.url("secantusdb"),
        exchange=state.url("exchange"),
        sink=state.url("sink") if "sink" in state.servers else "",
        bridge=state.url("bridge") if "bridge" in state.servers else "",
        functions=functions,
        jwt_secret=state.jwt_secret(),
    )


def down(step: Step = _quiet) -> None:
    state = State.load()
    for name in ("api", "bridge", *reversed(services.SERVERS)):
        record = state.servers.get(name)
        if record is None:
            continue
        stopped = procs.stop(record.get("pid"), services.SERVICES[name].marker)
        step(name, f"stopped pid {record.get('pid')}" if stopped else "was not running")
        state.servers.pop(name)
    state.deploy = {}  # MiniStack keeps its resources in memory: gone with it
    state.save()


def status() -> dict[str, dict[str, Any]]:
    state = State.load()
    return {
        name: {**state.servers[name], "running": state.running(name)}
        for name in ("ministack", "nats", "secantusdb", "exchange", "sink", "bridge", "api")
        if name in state.servers
    }
