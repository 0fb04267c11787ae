"""The session engine: Django's cache engine on Redis, keyed by a hash, with an index.

Set ``SESSION_ENGINE = "sessionadmin.backends.redis"``. Use is unchanged
(``request.session``, ``login()``, ``cycle_key()``...). What differs from the stock cache
engine, and why:

- the Redis key is ``keys.session_id(session_key)``, never the key itself;
- the payload is JSON (orjson), never pickle, whatever the cache alias is set to;
- every write is one Lua script (``scripts.WRITE``) that also updates the index, and an
  update of a session deleted meanwhile raises ``UpdateError`` instead of writing it back;
- loading a session is one round trip that also counts the request and, on a miss, reads
  the index entry telling which timeout ended it (``timeout_reason``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.backends.cache import SessionStore as CacheSessionStore
from django.core.cache import caches
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sessionadmin import keys
from sessionadmin.conf import get_settings
from sessionadmin.exceptions import SessionStoreUnavailable
from sessionadmin.scripts import script

logger = logging.getLogger("sessionadmin")
security_logger = logging.getLogger("django.security.SuspiciousSession")

# django.contrib.auth's session keys, without importing auth (this module loads early).
AUTH_USER_KEY = "_auth_user_id"
AUTH_BACKEND_KEY = "_auth_user_backend"
AUTH_HASH_KEY = "_auth_user_hash"
_DUMPS_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
MAX_USER_AGENT = 512


@dataclass(frozen=True)
class ClientInfo:
    """What the activity record keeps of the request: client IP and user agent."""

    ip: str = ""
    user_agent: str = ""


@dataclass(frozen=True)
class SessionMeta:
    """The stored activity record of a loaded session (times in ms since the epoch)."""

    user_id: str
    created: int
    last_activity: int
    login: int | None
    requests: int


def now_ms() -> int:
    return int(time.time() * 1000)


@contextmanager
def redis_errors():
    """Turn a Redis outage into SessionStoreUnavailable (one handler makes it a 503)."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise SessionStoreUnavailable(str(exc)) from exc


def redis_client() -> Redis:
    """Return the redis-py client of the sessions cache alias."""
    return caches[get_settings().cache_alias].client.get_client(write=True)


def run_script(name: str, script_keys: list[str], args: list[Any]) -> Any:
    """Run one of scripts.py's scripts; a Redis outage raises SessionStoreUnavailable."""
    client = redis_client()
    with redis_errors():
        return script(client, name)(keys=script_keys, args=args, client=client)


def _int(value: bytes | str | int | None) -> int | None:
    return int(value) if value not in (None, b"", "") else None


class SessionStore(CacheSessionStore):
    """Redis session store with hashed keys, atomic writes and an activity index."""

    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        self.client = ClientInfo()  # set by the middleware for the activity record
        self.count_request = False  # set by the middleware: load() counts one request
        self.meta: SessionMeta | None = None  # the stored record, once loaded
        self.ended_by: str | None = None  # "idle"/"absolute" when a timeout ended it
        self.cached_user: bytes = b""  # the user cached beside the session (usercache)
        self._carry_from: str | None = None

    # --- identity -----------------------------------------------------------------------
    @property
    def session_id(self) -> str | None:
        """Return the public id (keyed hash) of the current key, or None."""
        return keys.session_id(self.session_key) if self.session_key else None

    @property
    def cache_key(self) -> str:
        return keys.session_key_name(keys.session_id(self._get_or_create_session_key()))

    async def acache_key(self) -> str:
        return keys.session_key_name(keys.session_id(await self._aget_or_create_session_key()))

    def loaded_user_id(self) -> str | None:
        """Return the signed-in user's id if the session is already loaded; never loads."""
        data = getattr(self, "_session_cache", None)
        return str(data[AUTH_USER_KEY]) if data and data.get(AUTH_USER_KEY) else None

    # --- reading ------------------------------------------------------------------------
    def load(self) -> dict[str, Any]:
        self.meta = None
        self.ended_by = None
        key = self.session_key
        if key:
            with redis_errors():
                found = self._load_hashed(keys.session_id(key))
                if found is None and keys.fallback_session_ids(key):
                    found = self._load_from_fallbacks(key)
            if found is not None:
                return found
        # Unknown, expired or forged key: never adopt it; the next save makes a new one.
        self._session_key = None
        return {}

    def _load_hashed(self, sid: str) -> dict[str, Any] | None:
        reply = run_script(
            "LOAD",
            [keys.session_key_name(sid)],
            [sid, keys.prefix(), "1" if self.count_request else "0"],
        )
        if not reply[0]:
            self.ended_by = _reason_from_score(reply[1])
            return None
        _, payload, user_id, created, activity, login, requests, backend, auth_hash, cached = reply
        self.cached_user = cached
        self.meta = SessionMeta(
            user_id=user_id.decode(),
            created=_int(created) or 0,
            last_activity=_int(activity) or 0,
            login=_int(login),
            requests=int(requests or 0),
        )
        try:
            data = orjson.loads(payload) if payload else {}
        except orjson.JSONDecodeError:
            security_logger.warning("Session data corrupted (id %s)", sid)
            return None
        if not isinstance(data, dict):
            return None
        return join_auth_fields(data, user_id.decode(), backend.decode(), auth_hash)

    def _load_from_fallbacks(self, key: str) -> dict[str, Any] | None:
        # A session made before a SECRET_KEY rotation is moved to its new id, once.
        sid = keys.session_id(key)
        for old in keys.fallback_session_ids(key):
            moved = run_script(
                "REKEY",
                [keys.session_key_name(old), keys.session_key_name(sid)],
                [old, sid, keys.prefix()],
            )
            if moved:
                return self._load_hashed(sid)
        return None

    def exists(self, session_key: str | None) -> bool:
        if not session_key:
            return False
        with redis_errors():
            return bool(redis_client().exists(keys.session_key_name(keys.session_id(session_key))))

    # --- writing ------------------------------------------------------------------------
    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)
        self._write("create" if must_create else "update", data)

    def touch(self) -> bool:
        """Record activity (time, IP, agent) and push the idle deadline back, atomically.

        Return False if the session no longer exists; it is never recreated.
        """
        if self.session_key is None:
            return False
        when = now_ms()
        if self._write("touch", None, when) != 1:
            return False
        if self.meta is not None:
            self.meta = replace(self.meta, last_activity=when)
        return True

    def write_call(
        self, mode: str, data: dict[str, Any] | None, when: int | None = None
    ) -> tuple[list[str], list[Any]]:
        """Return the WRITE script's keys and arguments for this session (see scripts.py)."""
        conf = get_settings()
        payload = b""
        user_id = backend = auth_hash = ""
        if data is not None:
            rest, user_id, backend, auth_hash = split_auth_fields(data)
            payload = orjson.dumps(rest, option=_DUMPS_OPTIONS) if rest else b""
        ttl = min(conf.idle_timeout, self.get_expiry_age()) * 1000
        sid = keys.session_id(self.session_key)
        args = [
            mode,
            sid,
            keys.prefix(),
            when or now_ms(),
            ttl,
            conf.absolute_timeout * 1000,
            payload,
            user_id,
            self.client.ip,
            self.client.user_agent[:MAX_USER_AGENT],
            keys.session_id(self._carry_from) if self._carry_from else "",
            backend,
            auth_hash,
        ]
        return [keys.session_key_name(sid)], args

    def _write(self, mode: str, data: dict[str, Any] | None, when: int | None = None) -> int:
        result = run_script("WRITE", *self.write_call(mode, data, when))
        if result == 0:
            raise CreateError
        if result == -1 and mode == "update":
            # Deleted meanwhile (logout, revocation, timeout): never write it back.
            raise UpdateError
        return result

    def cycle_key(self) -> None:
        """Move the data to a new key; the old key dies in the same atomic step."""
        data = self._session
        self._carry_from = self.session_key
        try:
            self.create()
        finally:
            self._carry_from = None
        self._session_cache = data

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        delete_by_id(keys.session_id(session_key))

    @classmethod
    def clear_expired(cls) -> None:
        from sessionadmin import index

        index.prune()

    # --- async twins: the client is synchronous, so each runs in a thread ---------------
    async def aload(self) -> dict[str, Any]:
        return await sync_to_async(self.load)()

    async def aexists(self, session_key: str | None) -> bool:
        return await sync_to_async(self.exists)(session_key)

    async def asave(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return await self.acreate()
        data = await self._aget_session(no_load=must_create)
        await sync_to_async(self._write)("create" if must_create else "update", data)

    async def acycle_key(self) -> None:
        data = await self._aget_session()
        self._carry_from = self.session_key
        try:
            await self.acreate()
        finally:
            self._carry_from = None
        self._session_cache = data

    async def adelete(self, session_key: str | None = None) -> None:
        await sync_to_async(self.delete)(session_key)

    @classmethod
    async def aclear_expired(cls) -> None:
        await sync_to_async(cls.clear_expired)()


def _code(path: str) -> str:
    # A short digest, not a list index: reordering AUTHENTICATION_BACKENDS must not make a
    # stored session name another backend.
    return hashlib.sha256(path.encode()).hexdigest()[:8]


@cache
def _backends_by_code() -> dict[str, str]:
    return {_code(path): path for path in settings.AUTHENTICATION_BACKENDS}


def _backend_code(path: object) -> str:
    """The code of a configured backend's path; "" for anything else."""
    if not isinstance(path, str):
        return ""
    code = _code(path)
    return code if _backends_by_code().get(code) == path else ""


def split_auth_fields(data: dict[str, Any]) -> tuple[dict[str, Any], str, str, bytes | str]:
    """Take what django.contrib.auth keeps in a session out of the payload, compactly.

    Return (the rest, user id, backend code, raw auth hash). The user id is stored anyway
    (the index needs it); a configured backend becomes a short digest of its path and the
    64-hex-digit hash 32 raw bytes, so the hash stays a listpack (scripts.py). Values of
    any other shape stay in the payload.
    """
    user_id = str(data.get(AUTH_USER_KEY) or "")
    if not user_id:
        return data, "", "", ""
    rest = dict(data)
    del rest[AUTH_USER_KEY]
    code = _backend_code(rest.get(AUTH_BACKEND_KEY))
    if code:
        del rest[AUTH_BACKEND_KEY]
    auth_hash = rest.get(AUTH_HASH_KEY)
    raw: bytes | str = ""
    if isinstance(auth_hash, str) and len(auth_hash) == 64:
        with suppress(ValueError):
            raw = bytes.fromhex(auth_hash)
        if raw and raw.hex() == auth_hash:
            del rest[AUTH_HASH_KEY]
        else:
            raw = ""
    return rest, user_id, code, raw


def join_auth_fields(data: dict[str, Any], user_id: str, code: str, raw: bytes) -> dict[str, Any]:
    """The inverse of split_auth_fields: the session dict as Django wrote it."""
    if user_id:
        data[AUTH_USER_KEY] = user_id
        # A backend no longer configured is left out: Django then treats the session as
        # signed out, as it does for a backend path it no longer has.
        backend = _backends_by_code().get(code)
        if backend:
            data[AUTH_BACKEND_KEY] = backend
        if raw:
            data[AUTH_HASH_KEY] = raw.hex()
    return data


def delete_by_id(sid: str) -> bool:
    """Delete a session and its index entries by public id; return whether it existed."""
    return bool(run_script("DELETE", [keys.session_key_name(sid)], [sid, keys.prefix()]))


def _reason_from_score(score: bytes | str) -> str | None:
    # An index entry without its hash means the TTL ended the session (deletes remove
    # the entry); the score's fraction says which deadline was binding (scripts.WRITE).
    if not score:
        return None
    return "absolute" if float(score) % 1 >= 0.25 else "idle"
