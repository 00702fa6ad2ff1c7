"""The one folder the laptop stack owns (``.local-stack/`` by default): PIDs, ports, data, logs, builds.

``state.json`` records what runs (PID, ports, URL per server) and what was deployed; deleting the folder
(after ``make stack-stop``) forgets everything. ``LOCAL_STACK_DIR`` puts it elsewhere (tests do).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.stack import procs
from local.stack.services import ROOT, SERVICES


def stack_dir() -> Path:
    return Path(os.environ.get("LOCAL_STACK_DIR") or ROOT / ".local-stack").resolve()


@dataclass
class State:
    root: Path
    servers: dict[str, dict[str, Any]] = field(default_factory=dict)
    deploy: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.root / "state.json"

    @classmethod
    def load(cls, root: Path | None = None) -> State:
        root = root or stack_dir()
        try:
            raw = json.loads((root / "state.json").read_text())
        except (OSError, ValueError):
            raw = {}
        return cls(root, raw.get("servers", {}), raw.get("deploy", {}))

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"servers": self.servers, "deploy": self.deploy}, indent=2, sort_keys=True))
        tmp.replace(self.path)

    def running(self, name: str) -> bool:
        record = self.servers.get(name)
        return record is not None and procs.alive(record.get("pid"), SERVICES[name].marker)

    def url(self, name: str) -> str:
        return str(self.servers[name]["url"])

    def port(self, name: str, which: str = "main") -> int:
        return int(self.servers[name]["ports"][which])

    def jwt_secret(self) -> str:
        """A random HS256 key for this stack only, kept in the folder (0600) so tokens survive restarts."""
        path = self.root / "jwt-secret"
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()
