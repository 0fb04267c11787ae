"""The Lua scripts of the store (``lua/*.lua``): each write of a session and its index
entries, and each listing, is one atomic script.

Atomicity is the point. ``save()`` of a session deleted meanwhile must fail rather than
write it back (revocation is final), and the index must change together with the session,
so a read-then-write from Python would race. Scripts are sent once and then called by
SHA (redis-py's ``Script`` falls back to EVAL after a server restart).

Hash fields of a session (``keys.session_key_name``): ``d`` payload (JSON, absent when
empty), ``u`` user id, ``b`` auth backend (a digest of its path), ``h`` session auth hash
(32 raw bytes), ``x`` cached user (``auth.usercache``), all four absent when anonymous;
``c`` created, ``a`` last activity, ``l`` login time (all ms since the epoch), ``n``
request count, ``ip``, ``ua`` (or a reference into the ``:ua`` table, see agent.lua), and
``i:<namespace>:<item>`` item counts (``sessionadmin.items``). Every value is kept under
64 bytes where it can be, so Redis stores the hash as a compact listpack (about 250
bytes) instead of a hash table (about 1,000).

Index scores (ms) are when the session would end, less the idle timeout: the last activity
while the idle timeout binds, earlier once the absolute deadline comes first, so an entry
scored before "now less the idle timeout" is exactly an ended session. ``+0.5`` marks a
session whose binding deadline is the absolute timeout, so a request arriving after the
session expired can be told which timeout ended it.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from redis import Redis
from redis.commands.core import Script

# Each script is its file, after the shared helper functions it calls.
_PARTS: dict[str, tuple[str, ...]] = {
    "LOAD": ("agent", "load"),
    "WRITE": ("unindex", "agent", "write"),
    "DELETE": ("unindex", "delete"),
    "REKEY": ("unindex", "rekey"),
    "FORGET": ("forget",),
    "USER_FILL": ("user_fill",),
    "USER_FORGET": ("user_forget",),
    "ITEMS": ("items",),
    "PAGE": ("agent", "records", "page"),
    "USER_PAGE": ("agent", "records", "user_page"),
    "GET": ("agent", "records", "get"),
    "SEARCH": ("agent", "search"),
    "REVOKE_USER": ("unindex", "revoke_user"),
    "ENFORCE_LIMIT": ("unindex", "enforce_limit"),
    "LOGIN_ATTEMPT": ("login_attempt",),
    "DEVICE_ATTEMPT": ("device_attempt",),
    "REHASH_TOKENS": ("rehash_tokens",),
}


@cache
def source(name: str) -> str:
    """Return the Lua source of script ``name`` (LOAD, WRITE, PAGE...)."""
    folder = resources.files("sessionadmin.store") / "lua"
    return "\n".join((folder / f"{part}.lua").read_text() for part in _PARTS[name])


_registered: dict[str, Script] = {}


def script(client: Redis, name: str) -> Script:
    """Return the registered script ``name``, to call with ``client=``."""
    found = _registered.get(name)
    if found is None:
        found = _registered[name] = Script(client, source(name))
    return found
