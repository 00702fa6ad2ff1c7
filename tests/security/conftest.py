"""The chaos servers (shared with tests/chaos: one start per session) and the process-state restore."""

from tests.chaos.conftest import _restore_process_state, chaos_servers  # noqa: F401 (fixtures)
