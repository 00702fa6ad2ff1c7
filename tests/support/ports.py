"""A run-time check that an adapter implements a port (a typing.Protocol): every method the port declares
exists on the adapter and accepts the port's parameters by the same names and kinds. mypy does not read
tests/, so the conformance tests assert this instead of relying on an annotation."""

from __future__ import annotations

import inspect
from typing import Any


def port_methods(port: type) -> list[str]:
    return [name for name, value in vars(port).items() if callable(value) and not name.startswith("_")]


def assert_implements(adapter: Any, port: type) -> None:
    problems = []
    for name in port_methods(port):
        method = getattr(adapter, name, None)
        if not callable(method):
            problems.append(f"{name}: missing")
            continue
        wanted = list(inspect.signature(getattr(port, name)).parameters.values())[1:]  # without self
        have = inspect.signature(method).parameters
        for p in wanted:
            got = have.get(p.name)
            if got is None and not any(q.kind is q.VAR_KEYWORD for q in have.values()):
                problems.append(f"{name}: no parameter {p.name!r}")
            elif got is not None and got.kind is not p.kind and p.kind is not p.POSITIONAL_OR_KEYWORD:
                problems.append(f"{name}: {p.name!r} is {got.kind.description}, the port has {p.kind.description}")
            elif (
                got is not None and got.default is inspect.Parameter.empty and p.default is not inspect.Parameter.empty
            ):
                problems.append(f"{name}: {p.name!r} is required, the port gives it a default")
    assert not problems, f"{type(adapter).__name__} does not implement {port.__name__}: {problems}"
