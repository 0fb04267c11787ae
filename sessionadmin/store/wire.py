"""Sending the store's commands to one Redis server: one round trip, replies in order.

Every request of the session layer sends at least one script call, so what a call costs
in Python counts. redis-py's ``execute_command`` takes a connection from its pool (a lock
and a ``poll`` of the socket, in case an earlier user left a reply unread), wraps the call
in its retry and telemetry hooks, and gives it back: about half of a call's CPU time on
a fast loopback Redis (bench/README: ~35 of ~70 µs). Here the store keeps its own free
list of connections of the same pool settings, and a connection is only ever put back
after its replies were read in full (or it was closed), so no poll is needed.

- Only for a plain ``redis.ConnectionPool`` (one server, TCP, TLS or a Unix socket). A
  Sentinel's pool (which finds the primary on each connect), a blocking pool and a
  cluster client go through redis-py as before.
- A connection broken by a Redis restart fails once and is replaced, as the project's
  ``Retry(NoBackoff(), 1)`` does: the commands are sent again on a new connection. A
  timeout is not retried (a wedged Redis answers 503 without waiting twice).
- A free list per pool and process: a forked worker never uses its parent's sockets.
"""

from __future__ import annotations

import os
from typing import Any

from redis import ConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

_FREE = "_sessionadmin_free"  # the pool's attribute holding (pid, free connections)


def send(client: Redis, commands: list[tuple[Any, ...]]) -> list[Any]:
    """Send ``commands`` in one round trip; return their replies in order, an error reply
    (a ``ResponseError``, e.g. NOSCRIPT) in its command's place rather than raised. A
    connection error or timeout is raised."""
    pool = getattr(client, "connection_pool", None)
    if type(pool) is not ConnectionPool:  # Sentinel, blocking pool, cluster: redis-py's
        return _through_redis_py(client, commands)
    free = _free_list(pool)
    try:
        connection = free.pop()  # (atomic: no lock needed)
    except IndexError:
        connection = pool.connection_class(**pool.connection_kwargs)
    try:
        try:
            return _exchange(connection, commands)
        except RedisConnectionError:
            # Broken since its last use (a restart): once more on a new connection. The
            # broken one was closed by redis-py; it reconnects when next taken.
            free.append(connection)
            connection = pool.connection_class(**pool.connection_kwargs)
            return _exchange(connection, commands)
    except BaseException:
        connection.disconnect()  # a reply may be left unread: never reused as it is
        raise
    finally:
        free.append(connection)


def _exchange(connection: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
    packed = (
        connection.pack_command(*commands[0])
        if len(commands) == 1
        else connection.pack_commands(commands)
    )
    connection.send_packed_command(packed, check_health=False)
    replies: list[Any] = []
    for _ in commands:
        try:
            replies.append(connection.read_response())
        except ResponseError as error:  # the connection is fine: read the next reply
            replies.append(error)
    return replies


def _through_redis_py(client: Redis, commands: list[tuple[Any, ...]]) -> list[Any]:
    if len(commands) == 1:
        try:
            return [client.execute_command(*commands[0])]
        except ResponseError as error:
            return [error]
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    return pipe.execute(raise_on_error=False)


def _free_list(pool: ConnectionPool) -> list[Any]:
    pid = os.getpid()
    entry = pool.__dict__.get(_FREE)
    if entry is None or entry[0] != pid:
        entry = (pid, [])
        setattr(pool, _FREE, entry)
    return entry[1]
