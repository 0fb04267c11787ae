"""The Redis connection of the session store, its error mapping, and the script runner."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.core.cache import caches
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis import Redis
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.exceptions import (
    ClusterDownError,
    MasterDownError,
    NoPermissionError,
    NoScriptError,
    ReadOnlyError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sessionadmin.conf import get_settings
from sessionadmin.exceptions import SessionStoreUnavailable
from sessionadmin.metrics import store_round_trip
from sessionadmin.store import keys, wire
from sessionadmin.store.scripts import script

# An outage: no connection, no answer in time, or a failover under way (a cluster whose
# slot lost its master or that no node serves, a Sentinel primary demoted to a read-only
# replica); or a Redis user whose ACL refuses a command the store sends (NOPERM, also from
# a script: wire._script_error): the store is as unusable as with a wrong password, which
# is a connection error already, so a 503, not a 500, with Redis's reason in the log.
STORE_DOWN = (
    RedisConnectionError, RedisTimeoutError, ClusterDownError, TryAgainError, MasterDownError,
    ReadOnlyError, SlotNotCoveredError, NoPermissionError,
)  # fmt: skip


def now_ms() -> int:
    """Return the time in ms since the epoch: the unit of every stored time and score."""
    return int(time.time() * 1000)


class _RedisErrors:
    # A class, not @contextmanager: it is entered twice on every request, and a generator
    # context manager costs several times as much.
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, trace: Any) -> bool:
        if isinstance(exc, STORE_DOWN):
            raise SessionStoreUnavailable(str(exc)) from exc
        return False


_REDIS_ERRORS = _RedisErrors()


def redis_errors() -> _RedisErrors:
    """Turn a Redis outage into SessionStoreUnavailable (one handler makes it a 503);
    ``with redis_errors(): ...``."""
    return _REDIS_ERRORS


_CLIENT: list[Redis] = []  # the one below, once looked up


def redis_client() -> Redis:
    """Return the redis-py client of the sessions cache alias.

    Looked up once per process: ``caches[alias]`` is a per-thread lookup and django-redis
    wraps each client fetch (about 100 Python opcodes a call, on every request), for a
    client that is the same on every call. A redis-py client is safe to share between
    threads, and its pool copes with a fork."""
    try:
        return _CLIENT[0]
    except IndexError:
        with redis_errors():  # a cluster client reads the slot map as it is made
            client = caches[get_settings().cache_alias].client.get_client(write=True)
        _CLIENT.append(client)
        return client


@receiver(setting_changed)
def _forget_client(*, setting: str, **kwargs: object) -> None:
    # override_settings of another Redis (tests) must reach the cached client.
    if setting in {"CACHES", "SESSION_CACHE_ALIAS"}:
        _CLIENT.clear()


def run_script(name: str, script_keys: list[str], args: list[Any]) -> Any:
    """Run one of the store's Lua scripts; a Redis outage raises SessionStoreUnavailable."""
    client = redis_client()
    found = script(client, name)
    started = time.perf_counter()
    try:
        with redis_errors():
            # By SHA, as redis-py's Script.__call__ does, less its per-call checks. A
            # server without the script (restarted, failed over) gets it, and the call
            # is sent once more.
            reply = wire.send(client, [_evalsha(found, script_keys, args)])[0]
            if isinstance(reply, NoScriptError):
                _load(client, found, script_keys)
                reply = wire.send(client, [_evalsha(found, script_keys, args)])[0]
            return _reply(reply)
    finally:
        store_round_trip(time.perf_counter() - started)


def _load(client: Redis, found: Script, script_keys: list[str]) -> None:
    # A cluster's SCRIPT LOAD goes to every master, a failed one too (it keeps its slots
    # in the cluster's map until it is replaced): only the node of the keys, which
    # answered NOSCRIPT, is sent the script, so a dead master elsewhere changes nothing.
    if isinstance(client, RedisCluster) and script_keys:
        node = client.get_node_from_key(script_keys[0])
        found.sha = client.execute_command("SCRIPT LOAD", found.script, target_nodes=node)
    else:
        found.sha = client.script_load(found.script)


def run_commands(commands: list[tuple[Any, ...]], packed: bytes | None = None) -> list[Any]:
    """Send plain commands in one round trip (on a cluster, commands of one slot); return
    their replies in order, an error reply (``ResponseError``) in its place. A Redis
    outage raises SessionStoreUnavailable, even where it is a reply in place (a cluster
    pipeline's, a read-only replica's refusal). ``packed``: as ``wire.send``'s."""
    started = time.perf_counter()
    try:
        with redis_errors():
            replies = wire.send(redis_client(), commands, packed)
            for reply in replies:
                if isinstance(reply, STORE_DOWN):
                    raise reply
            return replies
    finally:
        store_round_trip(time.perf_counter() - started)


def run_reads(name: str, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
    """Run a read-only script of the store once per (keys, args) in ``calls``; return the
    replies in order, as ``run_scripts`` does (one round trip on one server)."""
    return run_scripts([(name, script_keys, args) for script_keys, args in calls])


ScriptCall = tuple[str, list[str], list[Any]]  # (script name, keys, args)


def run_scripts(calls: list[ScriptCall]) -> list[Any]:
    """Run the store's scripts ``calls`` in order; return their replies. On one server
    (or Sentinel's primary) in one round trip; in a cluster, which refuses scripts in a
    pipeline, one after another. They may write, so only the calls that found no script
    (a restarted server) are sent again, in one more round trip once their scripts are
    loaded. An error of any call is raised after all ran, the last call's first: a failed
    call ahead of it never hides what the last one did."""
    client = redis_client()
    if len(calls) == 1 or isinstance(client, RedisCluster):
        return [run_script(*call) for call in calls]
    found = [script(client, name) for name, _, _ in calls]
    started = time.perf_counter()
    try:
        with redis_errors():
            commands = [_evalsha(f, k, a) for f, (_, k, a) in zip(found, calls, strict=True)]
            replies = wire.send(client, commands)
            missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if missing:
                for entry in {id(found[i]): found[i] for i in missing}.values():
                    entry.sha = client.script_load(entry.script)
                again = wire.send(client, [_evalsha(found[i], *calls[i][1:]) for i in missing])
                for i, reply in zip(missing, again, strict=True):
                    replies[i] = reply
            # (Raised inside: a read-only replica's refusal is an outage.)
            return [_reply(reply) for reply in reversed(replies)][::-1]
    finally:
        store_round_trip(time.perf_counter() - started)


def _evalsha(found: Script, script_keys: list[str], args: list[Any]) -> tuple[Any, ...]:
    return ("EVALSHA", found.sha, len(script_keys), *script_keys, *args)


def _reply(reply: Any) -> Any:
    # wire.send hands error replies back in place; raise them here.
    if isinstance(reply, Exception):
        raise reply
    return reply


def on_every_shard(queue: Callable[[Any, int], object]) -> list[Any]:
    """Call ``queue(pipeline, shard)`` for every shard, then send the pipeline: one round
    trip on one server, one per master on a cluster. Return the replies in order; a Redis
    outage raises SessionStoreUnavailable."""
    with redis_errors():
        pipe = redis_client().pipeline(transaction=False)
        for shard in keys.shards():
            queue(pipe, shard)
        return pipe.execute()
