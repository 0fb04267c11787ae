"""Reading a session in one round trip of plain commands: no script on a signed-in read.

A script costs Redis far more than the reads it makes. On the project's machine an
EVALSHA of LOAD took about 38 µs of Redis's time (``INFO commandstats``), most of it
copying the hash into Lua and back, against about 7.5 µs for the same reads sent as
plain commands; the stock engine's ``GET`` takes under 1 µs. So a read sends, pipelined
in one round trip:

- ``HINCRBY n 1``: the request count (only for a request the middleware counts);
- ``PEXPIRE <STRAY_MS> NX``: a session always has a TTL, which ``NX`` leaves alone. A
  session already gone is made again by the ``HINCRBY``, as a hash of ``n`` only: this
  gives that stray a few seconds of life at most;
- ``HGETALL``, ``PTTL``.

A hash without ``a`` (every session's last activity) is no session: a stray, or nothing.
Then the MISS script deletes it (if it still has no ``a``) and reads the tombstone that
says which timeout ended the session. Every script that writes a session checks for
``a``, never for the key alone, so a stray is never taken for a session and a revoked
session never comes back.

What a read no longer makes, and where it went:

- the user's generation (``auth.usercache``): a change of the user drops the copies
  from the user's sessions as it bumps it, and a request that finds no copy reads it
  before the database;
- the agent table: a long agent is stored as a reference to it (agent.lua); when the
  reference is the request's own agent, as on nearly every request, that agent is the
  stored one; otherwise one ``HGET`` reads it;
- the user's own sessions: the views that list them still read through the LOAD script.
"""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from typing import Any

from redis.exceptions import ResponseError

from sessionadmin.backends import preloaded
from sessionadmin.store import codec, keys, sealing, wire
from sessionadmin.store.client import (
    now_ms,
    redis_client,
    redis_errors,
    run_commands,
    run_script,
)

logger = logging.getLogger("sessionadmin")
security_logger = logging.getLogger("django.security.SuspiciousSession")
MAX_USER_AGENT = 512  # characters of an agent the store keeps
STRAY_MS = 10_000  # the longest a hash made by a read of a gone session can live
_nx = [True]  # False once the server refused PEXPIRE ... NX (Redis before 7.0)


def _commands(name: Any, counted: bool, nx: bool) -> list[tuple[Any, ...]]:
    if not counted:
        return [("HGETALL", name), ("PTTL", name)]
    if nx:
        return [("HINCRBY", name, "n", 1), ("PEXPIRE", name, STRAY_MS, "NX"),
                ("HGETALL", name), ("PTTL", name)]  # fmt: skip
    return [("HINCRBY", name, "n", 1), ("HGETALL", name), ("PTTL", name)]


# Each shape of read packed once, its key left to fill in (wire.template).
_BOTH = (False, True)
_PACKED = {(c, nx): wire.template(*_commands(wire.KEY, c, nx)) for c in _BOTH for nx in _BOTH}


def read(name: str, counted: bool) -> tuple[dict[bytes, bytes], int]:
    """Return the fields of the session hash ``name`` and its TTL (ms), in one round trip,
    counting one request if ``counted``. Fields without ``a`` are no session (``live``)."""
    nx = _nx[0]
    commands = _commands(name, counted, nx)
    key = wire.bulk(name)
    replies = run_commands(commands, _PACKED[counted, nx] % ((key,) * len(commands)))
    if counted and nx and isinstance(replies[1], ResponseError) and _no_nx(replies[1]):
        # Redis 6.2: no NX. The stray is still deleted by MISS, right after this.
        _nx[0] = False
        logger.warning("Redis before 7.0 (%s): session reads go without PEXPIRE NX", replies[1])
        replies[1] = 0
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply  # any other error reply (out of memory...), as a script's would be
    fields, ttl = replies[-2], replies[-1]
    if type(fields) is not dict:  # RESP2 (RESP3, and redis-py's pipelines, give a dict)
        fields = reply_fields(fields)
    return fields, ttl


def _no_nx(error: ResponseError) -> bool:
    # What Redis before 7.0 answers to PEXPIRE's fourth argument.
    text = str(error).lower()
    return "wrong number of arguments" in text or "syntax" in text or "unsupported" in text


def live(fields: dict[bytes, bytes]) -> bool:
    """Whether a read's fields are a session's (every write sets ``a``)."""
    return b"a" in fields


def ended_by(name: str, sid: str, script_keys: list[str], prefix: str) -> str | None:
    """After a read found no session: delete the stray it made, and return which timeout
    ended the session ("idle", "absolute"), or None (never signed in, or unknown)."""
    return codec.reason_from_score(run_script("MISS", [name, *script_keys], [sid, prefix]))


def stored_agent(value: bytes, prefix: str, current: str) -> str:
    """Return the stored user agent from the hash's ``ua`` (inline, or a reference into
    the agent table, agent.lua); ``current`` is the request's own, as the store keeps it."""
    if value[:1] != b"\x01":
        return value.decode(errors="replace")
    hour, _, digest = value[1:].partition(b":")
    if not hour.isdigit():
        return ""
    if current and digest in _digests(current):
        return current  # the same agent as recorded: nearly every request
    with redis_errors():
        found = redis_client().hget(f"{prefix}:ua:{hour.decode()}", value)
    return found.decode(errors="replace") if found else ""


@lru_cache(maxsize=1024)
def _digests(agent: str) -> tuple[bytes, bytes]:
    # agent.lua's reference: the first 8 bytes of the agent's SHA-1, raw; or, as releases
    # before wrote it, their 16 hex digits. Cached: a server sees the same few agents.
    digest = hashlib.sha1(agent.encode(), usedforsecurity=False).digest()[:8]
    return digest, digest.hex().encode()


def reply_fields(pairs: list[Any]) -> dict[bytes, bytes]:
    """The fields of a hash as a script handed them back (field, value, ...)."""
    return dict(zip(pairs[::2], pairs[1::2], strict=True))


class Reading:
    """The session store's reads (backends/redis.py): its attributes are set here."""

    def _load_hashed(self, sid: str) -> dict[str, Any] | None:
        shard = keys.id_shard(sid)
        name, tag = keys.session_key_name(sid), keys.prefix(shard)
        if self.list_own > 0:
            # The user's own sessions too: they need its id, so one script reads all.
            reply = run_script(
                "LOAD",
                [name, *keys.shard_keys(shard)],
                [sid, tag, "1" if self.count_request else "0", self.list_own],
            )
            if not reply[0]:
                self.ended_by = codec.reason_from_score(reply[1])
                return None
            _, pairs, generation, agent, ttl, own = reply
            fields = reply_fields(pairs)
            # (LOAD reads the count before adding this request.)
            agent = agent.decode(errors="replace")
            found = self._adopt(sid, fields, agent, ttl, generation, self.count_request)
            self.preloaded.list_own(own)
            return found
        fields, ttl = read(name, self.count_request)
        if not live(fields):
            self.ended_by = ended_by(name, sid, keys.shard_keys(shard), tag)
            return None
        agent = stored_agent(fields.get(b"ua", b""), tag, self.client.user_agent[:MAX_USER_AGENT])
        return self._adopt(sid, fields, agent, ttl, None, False)

    def _adopt(
        self, sid: str, fields: dict, agent: str, ttl: int, generation: bytes | None, counted: bool
    ) -> dict[str, Any] | None:
        # The session as read (fields: its hash; agent: resolved; generation: the user's
        # when the read had it, auth.usercache; counted: this request is not in its count
        # yet), or None when it is not one to use here.
        get = fields.get
        meta = codec.meta_from_fields(fields, agent, ttl, now_ms(), counted)
        self.cached_user = get(b"x", b"") + get(b"x1", b"")
        self.user_generation = generation
        self.preloaded = preloaded.Preloaded(sid, fields, meta.user_id)
        if (meta.kind == "token") is not self.bearer:
            # A token is only ever a bearer, and a browser's key never one: a session
            # sent the other way is unknown, whatever it is.
            return None
        self.kind = meta.kind
        payload = get(b"d", b"")
        if payload[:1] == sealing.MARK:  # (CSRF_USE_SESSIONS: store/sealing.py)
            data = sealing.loads(payload, self._session_key, sid)
        else:
            data = codec.loads(payload)
        if data is None:
            security_logger.warning("Session data corrupted (id %s)", sid)
            return None
        self.meta = meta
        backend = get(b"b", b"").decode()
        return codec.join_auth_fields(data, meta.user_id, backend, get(b"h", b""))
