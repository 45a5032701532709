"""The multi-server fixtures, for the fault scenarios too."""

from tests.multiserver.conftest import servers, start_servers

__all__ = ["servers", "start_servers"]
