"""Sending the store's commands to one Redis server: one round trip, replies in order.

Every request of the session layer sends at least one script call, so what a call costs
in Python counts. redis-py's ``execute_command`` takes a connection from its pool (a lock
and a ``poll`` of the socket, in case an earlier user left a reply unread), wraps the call
in its retry and telemetry hooks, and gives it back: about half of a call's CPU time on
loopback (~35 of ~70 µs in a tight loop on the project's machine; about 100,000
instructions a call, ``bench/instructions.py``). Here the store keeps its own free
list of connections of the same pool settings, and a connection is only ever put back
after its replies were read in full (or it was closed), so no poll is needed.

- Only for a plain ``redis.ConnectionPool`` (one server, TCP, TLS or a Unix socket). A
  Sentinel's pool (which finds the primary on each connect), a blocking pool and a
  cluster client go through redis-py as before.
- A kept connection broken by a Redis restart fails once and is replaced, as the
  project's ``Retry(NoBackoff(), 1)`` does: the commands are sent again on a new
  connection. A failed connect is not tried again here (the connection's own retry has
  been), nor is a timeout (a wedged Redis answers 503 without waiting twice).
- A free list per pool and process: a forked worker never uses its parent's sockets.
  There are as many connections as calls in flight at once (threads), beside the pool's
  own (its ``max_connections`` counts only those).
- These connections take no part in redis-py 8's maintenance notifications (Redis
  Enterprise's, "auto" by default, inert elsewhere): through a maintenance they behave as
  a client without them. Set them to ``enabled=True`` and the store leaves every call to
  redis-py.
"""

from __future__ import annotations

import os
from typing import Any

from redis import ConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoPermissionError, ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.utils import HIREDIS_AVAILABLE

if HIREDIS_AVAILABLE:
    import hiredis
    from hiredis import pack_command as _hiredis_pack
    from redis._parsers.hiredis import NOT_ENOUGH_DATA, _HiredisParser
    from redis._parsers.socket import SERVER_CLOSED_CONNECTION_ERROR

    _PUSH = getattr(hiredis, "PushNotification", None)
else:
    _HiredisParser = _PUSH = NOT_ENOUGH_DATA = None

_FREE = "_sessionadmin_free"  # the pool's attribute holding (pid, free connections)


def send(client: Redis, commands: list[tuple[Any, ...]], packed: bytes | None = None) -> list[Any]:
    """Send ``commands`` in one round trip; return their replies in order, an error reply
    (a ``ResponseError``, e.g. NOSCRIPT) in its command's place rather than raised. A
    connection error or timeout is raised. Commands of one reply each only (never
    SUBSCRIBE, MONITOR or CLIENT REPLY). ``packed``: the same commands in RESP already
    (``template``), sent as they are where the store packs its commands itself."""
    pool = getattr(client, "connection_pool", None)
    if type(pool) is not ConnectionPool or pool.maint_notifications_enabled() is True:
        # Sentinel, a blocking pool, a cluster, or maintenance notifications asked for
        # (Redis Enterprise; redis-py updates only its own pool's connections for them).
        return _through_redis_py(client, commands)
    free, wired = _free_list(pool), _pack(pool, commands, packed)
    try:
        kept = free.pop()  # (atomic: no lock needed)
    except IndexError:
        # A new connection: a connect that fails is not tried again here (the
        # connection's own retry has been).
        return _use(free, _connection(pool), commands, wired)
    try:
        return _use(free, kept, commands, wired)
    except RedisConnectionError:
        # Broken since its last use (a Redis restart): dropped, and the commands sent
        # once more on a new connection, as redis-py's Retry(NoBackoff(), 1) would (so a
        # write whose reply was lost may run twice, as it may there).
        return _use(free, _connection(pool), commands, wired)


def template(*commands: tuple[Any, ...]) -> bytes:
    """Return ``commands`` in RESP with each argument ``KEY`` left as ``%b``, to be given
    a key's bulk string (``bulk``) by ``%``: the few fixed shapes of command the store
    sends on every request are packed once (hiredis's ``pack_command`` formats each length
    with ``sprintf``: about 15,000 instructions for a read's four commands)."""
    out = []
    for command in commands:
        out.append(b"*%d\r\n" % len(command))
        for arg in command:
            # (A % of an argument escaped after its length is taken, for the % to come.)
            out.append(b"%b" if arg is KEY else bulk(str(arg)).replace(b"%", b"%%"))
    return b"".join(out)


KEY = object()  # where ``template`` leaves a key


def bulk(key: str) -> bytes:
    """A key (any argument) as a RESP bulk string, for a ``template``'s ``%b``."""
    data = key.encode()
    return b"$%d\r\n%b\r\n" % (len(data), data)


def _connection(pool: ConnectionPool) -> Any:
    # The pool's kind of connection, speaking RESP2 whatever the pool's protocol: these
    # replies are only ever read here, and hiredis makes a RESP3 map (a session's hash)
    # about three times slower than the same fields as a RESP2 array (3.3 µs a read).
    # Lua replies differ only in booleans (RESP2: true is 1, false is nil), which the
    # store's scripts never return. No maintenance notifications (they need RESP3, and
    # redis-py refuses their "auto" default on a RESP2 connection without hiredis).
    kwargs = {**pool.connection_kwargs, "protocol": 2}
    if "maint_notifications_config" in kwargs:
        from redis.maint_notifications import MaintNotificationsConfig

        kwargs["maint_notifications_config"] = MaintNotificationsConfig(enabled=False)
        kwargs["maint_notifications_pool_handler"] = None
    return pool.connection_class(**kwargs)


def _pack(
    pool: ConnectionPool, commands: list[tuple[Any, ...]], packed: bytes | None
) -> list[bytes] | None:
    # What redis-py's own hiredis packer sends (HiredisRespSerializer: each command to
    # hiredis.pack_command as it is), less its per-argument checks for bytearray and
    # memoryview, which the store never sends; None: let the connection pack them (no
    # hiredis, or a packer of the pool's own).
    if "command_packer" in pool.connection_kwargs:
        return None
    if packed is not None:
        return [packed]
    if not HIREDIS_AVAILABLE:
        return None
    # One write for all (send_packed_command makes one per item): one read on the server.
    return [b"".join([_hiredis_pack(command) for command in commands])]


def _use(
    free: list[Any], connection: Any, commands: list[tuple[Any, ...]], packed: list[bytes] | None
) -> list[Any]:
    # A connection goes back to the free list only after an exchange read in full; on
    # anything else it is closed and dropped, so no reply is ever left for the next user,
    # and no connection is ever on the list twice.
    try:
        replies, keep = _exchange(connection, commands, packed)
    except BaseException:
        connection.disconnect()
        raise
    if keep:
        free.append(connection)
    else:
        connection.disconnect()
    return replies


def _exchange(
    connection: Any, commands: list[tuple[Any, ...]], packed: list[bytes] | None
) -> tuple[list[Any], bool]:
    """Return the replies, and whether the connection is worth keeping."""
    if packed is None:
        packed = (
            connection.pack_command(*commands[0])
            if len(commands) == 1
            else connection.pack_commands(commands)
        )
    connection.send_packed_command(packed, check_health=False)
    parser = connection._parser
    reader = parser._reader if type(parser) is _HiredisParser else None
    replies: list[Any] = []
    keep = True
    for _ in commands:
        if reader is not None:
            # Straight from the reader when the reply is there, as after the first it
            # nearly always is (one read brings them all); else the socket is read.
            reply = reader.gets()
            if reply is NOT_ENOUGH_DATA or type(reply) is _PUSH:
                reply = _next_reply(connection, parser, reader, reply)
        else:  # no hiredis, or another parser: as redis-py reads
            try:
                reply = connection.read_response()
            except ResponseError as error:  # in step still: read the next reply
                reply = error
        if isinstance(reply, Exception):
            if not isinstance(reply, ResponseError):
                raise reply  # LOADING, NOAUTH...: a ConnectionError, as redis-py raises it
            reply = _script_error(reply)
            # A replica now (a failover behind one address): the next connection may
            # reach the new primary.
            keep = keep and not isinstance(reply, ReadOnlyError)
        replies.append(reply)
    return replies, keep


def _next_reply(connection: Any, parser: Any, reader: Any, reply: Any) -> Any:
    # The next reply from hiredis's reader, given what its last gets() returned, reading
    # the socket into it as redis-py's hiredis parser does, less its layers (about 130
    # Python opcodes a reply). An error reply comes back as its exception, not raised.
    while reply is NOT_ENOUGH_DATA:
        sock = connection._sock
        if sock is None:
            raise RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
        try:
            size = sock.recv_into(parser._buffer)
        except TimeoutError as error:  # socket.timeout
            raise RedisTimeoutError(f"Timeout reading from {connection._host_error()}") from error
        except OSError as error:
            where = connection._host_error()
            raise RedisConnectionError(
                f"Error while reading from {where} : {error.args}"
            ) from error
        if not size:
            raise RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
        reader.feed(parser._buffer, 0, size)
        reply = reader.gets()
    if type(reply) is _PUSH:  # RESP3 only: these connections speak RESP2
        parser.handle_push_response(reply)
        return _next_reply(connection, parser, reader, reader.gets())
    return reply


def _through_redis_py(client: Redis, commands: list[tuple[Any, ...]]) -> list[Any]:
    if len(commands) == 1:
        try:
            return [client.execute_command(*commands[0])]
        except ResponseError as error:
            return [_script_error(error)]
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    replies = pipe.execute(raise_on_error=False)
    return [_script_error(r) if isinstance(r, ResponseError) else r for r in replies]


def _script_error(error: ResponseError) -> ResponseError:
    """A script's error reply as the error it wraps, where that is an outage (client.py's
    STORE_DOWN). Redis answers a command it refuses outside a script with its own reply,
    which redis-py maps (READONLY, NOPERM), but wraps it inside one: a replica's refusal
    of a write (Redis 6.2: "Error running script ... -READONLY ...") and an ACL's refusal
    of a command ("... can't run this command or subcommand script ...")."""
    if type(error) is not ResponseError:
        return error
    text = str(error)
    if "-READONLY " in text:
        return ReadOnlyError(text)
    if "can't run this command" in text or "-NOPERM " in text:
        return NoPermissionError(text)
    return error


def _free_list(pool: ConnectionPool) -> list[Any]:
    pid = os.getpid()
    entry = pool.__dict__.get(_FREE)
    if entry is None or entry[0] != pid:
        entry = (pid, [])
        setattr(pool, _FREE, entry)
    return entry[1]
