"""The laptop stack: MiniStack, nats-server, SecantusDB, the local exchange and the bridge, all on
127.0.0.1, with template.yaml deployed into MiniStack. See docs/LOCAL.md."""
