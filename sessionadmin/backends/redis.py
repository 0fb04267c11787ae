"""The session engine: Django's cache engine on Redis, keyed by a hash, with an index.

Set ``SESSION_ENGINE = "sessionadmin.backends.redis"``. Use is unchanged
(``request.session``, ``login()``, ``cycle_key()``...). What differs from the stock cache
engine, and why:

- the Redis key is ``keys.session_id(session_key)``, never the key itself;
- the payload is JSON (orjson), never pickle, whatever the cache alias is set to (nor is
  ``SESSION_SERIALIZER`` read: ``encode()``/``decode()`` use Django's JSON serializer);
- every write is one Lua script (``store/lua/write.lua``) that also updates the index, and an
  update of a session deleted meanwhile raises ``UpdateError`` instead of writing it back;
- loading a session is one round trip of plain commands that also counts the request
  (``reading.py``); a miss then reads the index entry telling which timeout ended it
  (``timeout_reason``);
- a signed-in session's key is drawn so that it lands in its user's shard
  (``store/keys.py``), moving a guest session there when its user signs in.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.backends.cache import SessionStore as CacheSessionStore
from django.core.cache import caches
from django.core.signing import JSONSerializer

from sessionadmin.backends import preloaded
from sessionadmin.backends.placement import Placement, end_carried, rekey
from sessionadmin.backends.reading import MAX_USER_AGENT, Reading
from sessionadmin.backends.signing_in import SigningIn
from sessionadmin.backends.twins import SyncTwins
from sessionadmin.conf import get_settings
from sessionadmin.events import script_status
from sessionadmin.index.actions import delete_session
from sessionadmin.index.upkeep import prune
from sessionadmin.store import codec, idmemo, keys, sealing
from sessionadmin.store.client import now_ms, redis_client, redis_errors, run_script, run_scripts
from sessionadmin.store.codec import NO_CLIENT, ClientInfo, SessionMeta  # noqa: F401 (exported)


class SessionStore(SyncTwins, Placement, SigningIn, Reading, CacheSessionStore):
    """Redis session store with hashed keys, atomic writes and an activity index."""

    # What a request sets on its store, with their defaults: class attributes, as a
    # request builds a store and most keep most of these.
    count_request = False  # set by the middleware: load() counts one request
    meta: SessionMeta | None = None  # the stored record, once loaded
    ended_by: str | None = None  # "idle"/"absolute" when a timeout ended it
    cached_user = b""  # the user cached beside the session (auth.usercache)
    list_own = 0  # set by the middleware: LOAD lists this many of the user's sessions
    preloaded: preloaded.Preloaded | None = None  # what the read found beside it
    user_generation: bytes | None = None  # the user's generation, when LOAD read it
    _carry_from: str | None = None
    _carried: tuple[str, list[Any]] | None = None  # taken from another shard
    _id_of: tuple[str, str] | None = None  # (key, secret) of the id memoised
    _id = ""
    _stored = False  # the key was found in or written to the store
    _last_write: tuple | None = None  # what this object last wrote (see save)
    restart_login = False  # set on a sign-in: the next write starts a new login
    kind = "browser"  # "token" for a bearer token's session (tokens.py)
    name = ""  # a token's label, written when it is created
    bearer = False  # loaded from an Authorization header, not from a cookie
    flushed_key: str | None = None  # a bearer session's key whose flush() waits (bearer.py)
    end_reason: str | None = None  # why a delete() ends it (signals); else logout
    started_sign_in = False  # a write began a signed-in session, not yet reported (signals)
    # Django's encode()/decode(); the store itself writes JSON (store.codec), never pickle.
    serializer = JSONSerializer

    def __init__(self, session_key: str | None = None) -> None:
        # What Django's bases set, less the settings lookups of each request (a
        # serializer by name, a cache alias this store does not read through).
        self._session_key = session_key
        self.accessed = False
        self.modified = False
        self.client = NO_CLIENT  # the middleware sets the request's: the activity record

    @property
    def _cache(self) -> Any:
        # CacheSessionStore's; this store reaches Redis through store.client.
        return caches[settings.SESSION_CACHE_ALIAS]

    # --- identity -----------------------------------------------------------------------
    @property
    def session_id(self) -> str | None:
        """Return the public id (keyed hash) of the current key, or None; hashed once per
        key (a request reads it several times)."""
        key = self.session_key
        if not key:
            return None
        current = (key, keys.secret())
        if self._id_of != current:
            self._id_of, self._id = current, idmemo.session_id(key)
        return self._id

    @property
    def cache_key(self) -> str:
        return keys.session_key_name(keys.session_id(self._get_or_create_session_key()))

    async def acache_key(self) -> str:
        return keys.session_key_name(keys.session_id(await self._aget_or_create_session_key()))

    def loaded_user_id(self) -> str | None:
        """Return the signed-in user's id if the session is already loaded; never loads."""
        data = getattr(self, "_session_cache", None)
        return str(data[codec.AUTH_USER_KEY]) if data and data.get(codec.AUTH_USER_KEY) else None

    # --- reading ------------------------------------------------------------------------
    def load(self) -> dict[str, Any]:
        self.meta = self.preloaded = None
        self.ended_by = None
        self._stored = False
        key = self.session_key
        if key and key.startswith(keys.TOKEN_PREFIX) is not self.bearer:
            key = None  # a token sent as a cookie, or the reverse: never even looked up
        if key:
            with redis_errors():
                found = self._load_hashed(self.session_id)
                if found is None and settings.SECRET_KEY_FALLBACKS:
                    found = self._load_from_fallbacks(key)
            if found is not None:
                self._stored = True
                return found
        # Unknown, expired or forged key: never adopt it; the next save makes a new one.
        self._session_key = None
        return {}

    def _load_from_fallbacks(self, key: str) -> dict[str, Any] | None:
        # A session made before a SECRET_KEY rotation is moved to its new id, once.
        return self._load_hashed(self.session_id) if rekey(key) else None

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
        if self.session_key is None:
            # The key was stale (loading it found nothing): a new session, as Django's
            # cache engine makes one, never a write under a key that no longer exists.
            return self.create()
        mode = "create" if must_create else "update"
        user_id = str(data.get(codec.AUTH_USER_KEY) or "")
        if user_id and keys.id_shard(self.session_id) != keys.user_shard(user_id):
            # Signed in on a guest session (or a key from elsewhere): the session moves
            # to a key in its user's shard, like cycle_key.
            return self._move()
        if (
            mode == "update"
            and not self.restart_login
            and self._last_write == self._write_state(data)
        ):
            # Saved already in this request with exactly this (login() saves early for
            # the per-user limit, then the middleware saves again): no second round trip,
            # and nothing to bring back if the session was ended meanwhile.
            return
        self._write(mode, data)

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
            self.meta = self.meta._replace(last_activity=when)
        return True

    def write_call(
        self, mode: str, data: dict[str, Any] | None, when: int | None = None
    ) -> tuple[list[str], list[Any]]:
        """Return the WRITE script's keys and arguments for this session (see write.lua)."""
        conf = get_settings()
        payload = b""
        user_id = backend = auth_hash = ""
        if data is not None:
            rest, user_id, backend, auth_hash = codec.split_auth_fields(data)
            if sealing.SEALED_KEY in rest:  # (CSRF_USE_SESSIONS: store/sealing.py)
                payload = sealing.dumps(rest, self.session_key)
            else:
                payload = codec.dumps(rest)
        idle, absolute = conf.timeouts(self.kind)
        # A token's life is its own (days); a browser's also ends with Django's expiry.
        ttl = (idle if self.kind == "token" else min(idle, self.get_expiry_age())) * 1000
        sid = self.session_id
        shard = keys.id_shard(sid)
        carry_from, carried = self._carry_from, []
        if carry_from and keys.key_shard(carry_from) != shard:
            carry_from, carried = None, self._read_carried()
        device = self._sign_in_device(user_id)  # first parse is slow: before the clock
        now = when or now_ms()
        quiet: list[int] = []
        if mode == "update" and self.client is NO_CLIENT:
            # Saved outside any request: no activity. Its last activity, IP and agent
            # stay, and so do its deadlines (a task saving it cannot keep it alive).
            mode, (ttl, from_activity) = "quiet", self._quiet_ttls(idle)
            quiet = [from_activity]
        dead_before = now - (conf.idle_timeout + conf.clock_slack) * 1000
        args = [
            mode,
            sid,
            keys.prefix(shard),
            now,
            ttl,
            absolute * 1000,
            payload,
            user_id,
            self.client.ip,
            self.client.user_agent[:MAX_USER_AGENT],
            keys.session_id(carry_from) if carry_from else "",
            backend,
            auth_hash,
            dead_before,
            dead_before - conf.index_grace * 1000,
            conf.idle_timeout * 1000,
            "1" if self.restart_login else "",
            "t" if self.kind == "token" else "",
            self.name,
            device,
            self._sign_in_cap(user_id, carrying=bool(carried)),
            *carried,
            *quiet,
        ]
        return [keys.session_key_name(sid), *keys.shard_keys(shard)], args

    def _quiet_ttls(self, idle: int) -> tuple[int, int]:
        # A quiet write's TTL (ms): from now, and from the last activity as stored (write.lua
        # takes the smaller). Django counts an expiry in seconds (set_expiry(300)) from the
        # last change, which for a quiet write is that activity; a date is a date.
        dated = self.kind != "token" and isinstance(self.get("_session_expiry"), str)
        age = self.get_expiry_age() * 1000
        from_activity = idle * 1000 if self.kind == "token" or dated else min(idle * 1000, age)
        return (age if dated else from_activity), from_activity

    def _write_state(self, data: dict[str, Any] | None) -> tuple:
        return (self.session_key, self.get_expiry_age(), self.client, repr(data))

    def _write(self, mode: str, data: dict[str, Any] | None, when: int | None = None) -> int:
        write = "WRITE", *self.write_call(mode, data, when)
        ahead, self.ahead_of_write = self.ahead_of_write, None
        reply = run_scripts([ahead, write])[-1] if ahead else run_script(*write)
        result = script_status(reply)
        self.capped = result == 1 and self._cap_sent > 0
        if result == 1 and reply[2]:
            # Kept until reported: a receiver of login()'s signal may have saved the
            # session before ours did (auth/receivers.py), so ours writes no new record.
            self.started_sign_in = True
        if result == 1 and self._carried is not None:  # carried over from another shard
            end_carried(self._carry_from or "", self.session_key)
        if result == 1:
            self._stored = True
            if data is not None:
                self._last_write = self._write_state(data)
                self.restart_login = False
                self._after_write(self.started_sign_in)
        if result == 0:
            raise CreateError
        if result == -1 and (mode == "update" or self._carry_from):
            # Deleted meanwhile (logout, revocation, timeout): never write it back, and
            # never bring it back under a new key either (cycle_key of a revoked session).
            raise UpdateError
        return result

    def cycle_key(self) -> None:
        """Move the data to a new key; the old key dies in the same atomic step. Raises
        UpdateError if the stored session ended meanwhile: it is not recreated."""
        data = self._session
        if self.kind == "token":
            return  # a token's key is the token its holder has: it never changes
        if not self._stored:
            # Nothing stored to retire: the next save makes the key, in the user's shard
            # once login() has set the user (no throwaway write, then a move). A key never
            # loaded (clear() without a load) is ended all the same.
            if self._session_key:
                delete_session(keys.session_id(self._session_key))
            self._session_key, self._session_cache, self.modified = None, data, True
            return
        self._move()
        self._session_cache = data

    def _forget_local(self) -> None:
        # Nothing of an ended session is saved or sent back as a cookie by this request.
        self._session_key = None
        self._session_cache = {}
        self.modified = False

    def flush(self) -> None:
        if not self.bearer or self.end_reason is not None:
            return super().flush()
        # A bearer request's flush() from Django's code (login() as another user, get_user()
        # on a stale auth hash) ends the token when the response goes out (bearer.py), not
        # now: login() then refuses the sign-in (auth.receivers), and the token must stay.
        self.flushed_key = self._session_key or self.flushed_key
        self.clear()
        self._session_key = None

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        # Ended by its own request: a logout, unless the caller said why (a timeout).
        delete_session(keys.session_id(session_key), self.end_reason or "logout")
        if session_key == self.session_key:
            self._stored = False  # a login after a flush() makes its key afresh
            self._written_user = ""  # and holds nobody: a user set then signs in

    @classmethod
    def clear_expired(cls) -> None:
        prune()
