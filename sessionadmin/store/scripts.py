"""The Lua scripts of the store (``lua/*.lua``): each write of a session and its index
entries, and each listing, is one atomic script.

Atomicity is the point. ``save()`` of a session deleted meanwhile must fail rather than
write it back (revocation is final), and the index must change together with the session,
so a read-then-write from Python would race. Scripts are sent once and then called by
SHA (``client.py`` loads one again where a server restarted or failed over without it).

Hash fields of a session (``keys.session_key_name``): ``d`` payload (JSON, absent when
empty), ``u`` user id, ``b`` auth backend (4 hex digits of a digest of its path, 8 when
two configured backends share 4: codec.py), ``h`` session auth hash (32 raw bytes), ``x``
and ``x1`` the cached user (``auth.usercache``, in parts of 63 and 64 bytes), all absent
when anonymous; ``c`` created, ``a`` last activity, ``l`` login time (all ms since the
epoch; no ``l`` in a signed-in session its sign-in made: it is ``c``), ``n`` request
count, ``ip`` (an IPv4 address packed in 5 bytes, agent.lua), ``ua`` (or a reference into
the ``:ua`` table, agent.lua), ``f`` hijack flags (flag.lua), and ``i:<namespace>:<item>``
item counts (``sessionadmin.items``). Every value is kept under 64 bytes where it can be,
so Redis stores the hash as a compact listpack (under 256 bytes for a signed-in session
with a 3-line cart, bench/memory.py) instead of a hash table (about 1,000).

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

from sessionadmin.conf import get_settings
from sessionadmin.store import keys

# Each script is its file, after the shared helper functions it calls.
_PARTS: dict[str, tuple[str, ...]] = {
    "LOAD": ("users", "agent", "records", "load"),
    "MISS": ("miss",),
    "WRITE": ("users", "signins", "events", "unindex", "agent", "moving", "cap", "write"),
    "DELETE": ("users", "signins", "events", "unindex", "delete"),
    "TAKE": ("users", "signins", "events", "unindex", "moving", "take"),
    "REKEY": ("users", "signins", "unindex", "rekey"),
    "FORGET": ("users", "signins", "events", "forget"),
    "USER_FILL": ("user_fill",),
    "USER_FORGET": ("users", "user_forget"),
    "ITEMS": ("moving", "items"),
    "USER_PAGE": ("users", "agent", "records", "user_page"),
    "GET": ("users", "agent", "records", "get"),
    "SEARCH": ("agent", "search"),
    "REVOKE_USER": ("users", "signins", "events", "unindex", "revoke_user"),
    "ENFORCE_LIMIT": ("users", "signins", "events", "unindex", "cap", "enforce_limit"),
    "FLAG": ("users", "signins", "events", "flag"),
    "PRUNE": ("users", "signins", "events", "prune"),
    "SWEEP": ("users", "signins", "events", "sweep"),
    "LOGIN_ATTEMPT": ("login_attempt",),
    "DEVICE_ATTEMPT": ("device_attempt",),
    "NEW_SESSION": ("new_session",),
    "REHASH_TOKENS": ("users", "rehash_tokens"),
    "USER_COUNT": ("users", "user_count"),
    "USERS_PRUNE": ("users", "users_prune"),
    "SINGLES_SWEEP": ("users", "singles_sweep"),
}


def names() -> tuple[str, ...]:
    """Return the names of the store's scripts (LOAD, WRITE, ...)."""
    return tuple(_PARTS)


def source(name: str) -> str:
    """Return the Lua source of script ``name`` (LOAD, WRITE, PAGE...)."""
    # Each shard keeps its part of the log: the cap is shared out.
    return _source(name, keys.per_shard(get_settings().events_max))


@cache
def _source(name: str, events_max: int) -> str:
    folder = resources.files("sessionadmin.store") / "lua"
    parts = [(folder / f"{part}.lua").read_text() for part in _PARTS[name]]
    if "events" in _PARTS[name]:
        # The log's cap and the tombstones' offset are part of the source: every script
        # that logs has them at hand.
        parts.insert(0, f"local EVENTS_MAX = {int(events_max)}")
        parts.insert(0, f"local TOMBSTONE = {keys.TOMBSTONE}")
    return "\n".join(parts)


_registered: dict[str, Script] = {}


def script(client: Redis, name: str) -> Script:
    """Return the registered script ``name``, to call with ``client=``."""
    text = source(name)
    found = _registered.get(name)
    if found is None or found.script != text:
        found = _registered[name] = Script(client, text)
    return found
