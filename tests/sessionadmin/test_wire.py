"""The store's own sending of commands (store/wire.py), against a redis-server of its own:
replies in order, a restart, a timeout, a fork, and the pools it leaves to redis-py."""

from __future__ import annotations

import os
import time

import pytest
import redis as redis_py
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sessionadmin.store import wire
from tests.redis_topologies import redis_node
from tests.servers import free_port

# Busy for 0.5 s by Redis's clock, then answers "late".
SLOW = """
local s = redis.call('TIME')
repeat
  local t = redis.call('TIME')
until (t[1] - s[1]) * 1000000 + (t[2] - s[2]) > 500000
return 'late'
"""


@pytest.fixture
def node(tmp_path):
    started = redis_node(tmp_path, free_port())
    yield started
    started.stop()


def plain(port: int, timeout: float = 1.0) -> redis_py.Redis:
    return redis_py.Redis(
        host="127.0.0.1", port=port, socket_timeout=timeout, socket_connect_timeout=0.5
    )


def free_list(client: redis_py.Redis) -> list:
    pid, connections = client.connection_pool.__dict__[wire._FREE]
    assert pid == os.getpid()
    return connections


def test_replies_come_in_order_with_an_error_reply_in_its_place(node):
    client = plain(node.port)
    replies = wire.send(client, [("SET", "k", "v"), ("INCR", "k"), ("GET", "k")])
    assert replies[0] == b"OK" and replies[2] == b"v"
    assert isinstance(replies[1], ResponseError)
    assert wire.send(client, [("ECHO", "next")]) == [b"next"]  # the connection is fine
    assert len(free_list(client)) == 1  # one connection, reused
    assert client.connection_pool._created_connections == 0  # not the pool's own


def test_a_restarted_server_is_reached_on_a_new_connection(node, tmp_path):
    client = plain(node.port)
    assert wire.send(client, [("PING",)]) == [b"PONG"]
    node.stop()
    restarted = redis_node(tmp_path / "again", node.port)
    try:
        # The connection kept from before the restart is broken: replaced, not reported.
        assert wire.send(client, [("ECHO", "back")]) == [b"back"]
    finally:
        restarted.stop()
    with pytest.raises(RedisConnectionError):
        wire.send(client, [("PING",)])  # down: tried twice, then raised


def test_a_timeout_leaves_no_reply_behind_for_the_next_command(node):
    client = plain(node.port, timeout=0.2)
    with pytest.raises(RedisTimeoutError):
        wire.send(client, [("EVAL", SLOW, 0)])
    assert free_list(client) == []  # closed and dropped, never put back
    time.sleep(0.6)  # the late reply has been sent by now, to a closed connection
    assert wire.send(client, [("ECHO", "mine")]) == [b"mine"]


def test_a_replica_s_refusal_drops_the_connection(node, tmp_path):
    # Behind one address a failover turns the primary into a replica: the next call
    # connects again (to whatever the address now reaches) rather than keep this one.
    port = free_port()
    replica = redis_node(tmp_path / "replica", port, replica_of=node.port)
    try:
        client = plain(port)
        assert wire.send(client, [("GET", "k")]) == [None]
        assert len(free_list(client)) == 1
        [refused] = wire.send(client, [("SET", "k", "v")])
        assert isinstance(refused, ReadOnlyError)
        assert free_list(client) == []
    finally:
        replica.stop()


def test_a_forked_child_never_uses_its_parents_connections(node):
    client = plain(node.port)
    wire.send(client, [("CLIENT", "SETNAME", "parent")])
    pid = os.fork()
    if pid == 0:  # the child: its own connection, its own free list
        try:
            ok = wire.send(client, [("CLIENT", "GETNAME")]) == [None]
            ok = ok and free_list(client) and len(free_list(client)) == 1
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert wire.send(client, [("CLIENT", "GETNAME")]) == [b"parent"]  # untouched


def test_other_pools_go_through_redis_py(node):
    client = redis_py.Redis(
        connection_pool=redis_py.BlockingConnectionPool(host="127.0.0.1", port=node.port)
    )
    assert wire.send(client, [("SET", "k", "1"), ("INCR", "k")]) == [True, 2]
    assert isinstance(wire.send(client, [("HGET", "k", "f")])[0], ResponseError)
    assert wire._FREE not in client.connection_pool.__dict__


def test_a_resp3_pool_without_hiredis_is_served_on_resp2(node):
    # The store's connections speak RESP2 and take no part in maintenance notifications,
    # which redis-py refuses on a RESP2 connection with its pure-Python parser.
    from redis._parsers import _RESP2Parser

    pool = redis_py.ConnectionPool(
        host="127.0.0.1", port=node.port, protocol=3, parser_class=_RESP2Parser
    )
    client = redis_py.Redis(connection_pool=pool)
    client.hset("h", mapping={"a": "1", "b": "2"})
    assert wire.send(client, [("HGETALL", "h"), ("PING",)]) == [[b"a", b"1", b"b", b"2"], b"PONG"]


def test_a_template_packs_as_redis_py_does_percent_signs_included(node):
    client = plain(node.port)
    commands = [("SET", wire.KEY, "50%", "PX", 10_000), ("GET", wire.KEY), ("ECHO", "%d%%")]
    packed = wire.template(*commands) % ((wire.bulk("k%s"),) * 2)
    sent = [tuple("k%s" if a is wire.KEY else a for a in c) for c in commands]
    assert packed == b"".join(client.connection_pool.make_connection().pack_commands(sent))
    assert wire.send(client, sent, packed) == [b"OK", b"50%", b"%d%%"]
