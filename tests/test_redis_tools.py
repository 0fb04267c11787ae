"""The MONITOR helper the round-trip tests count with (tests/redis_tools.py)."""

from __future__ import annotations

import time

from tests.redis_tools import monitor
from tests.settings import TEST_REDIS_DB


def test_monitor_still_sees_a_command_after_a_quiet_moment(redis):
    # A read timeout used to drop MONITOR's connection: a request slower than 0.2 s to
    # send its first command was then counted as none (a flake on a loaded machine).
    with monitor(redis, TEST_REDIS_DB) as log:
        time.sleep(0.6)
        redis.get("anything")
    assert log.names() == ["GET"]
