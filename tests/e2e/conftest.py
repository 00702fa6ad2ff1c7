"""The laptop stack, up once per test session, with template.yaml deployed into MiniStack.

By default the session gets a stack of its own in a temporary folder (free ports, its own data), so a
stack the developer runs with ``make run`` is never touched, and stops it by PID at the end.
``E2E_REUSE_STACK=1`` runs the tests against the developer's running stack (``.local-stack/``) instead
and leaves it running.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from local.stack import stack
from local.stack.demo import Api

REUSE = os.environ.get("E2E_REUSE_STACK") == "1"


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.Endpoints]:
    with pytest.MonkeyPatch.context() as mp:
        if not REUSE:
            mp.setenv("LOCAL_STACK_DIR", str(tmp_path_factory.mktemp("local-stack")))
            mp.setenv("API_PORT", "0")  # a free port: a `make run` on 8000 may be serving beside us
        mp.delenv("AWS_ENDPOINT_URL", raising=False)  # MiniStack, not whatever the shell points at
        started = time.monotonic()
        try:
            ends = stack.up()
        except BaseException:
            if not REUSE:
                stack.down()
            raise
        print(f"\nlaptop stack up and deployed in {time.monotonic() - started:.1f}s")
        try:
            yield ends
        finally:
            if not REUSE:
                stack.down()


@pytest.fixture(scope="session")
def api(local_stack: stack.Endpoints) -> Api:
    return Api(local_stack)
