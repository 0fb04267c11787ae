"""Redis key names and the keyed hash of a session key, in one place.

The store never holds a raw session key: a session's Redis key and every index entry use
``session_id(key)``, an HMAC-SHA256 of the cookie value under a key derived from
SECRET_KEY, shortened to 96 bits: a Redis dump, a MONITOR trace or a log line yields no
usable cookie (Rack's fix for CVE-2019-16782). It is also the session's public id.

The store is split into ``SESSIONADMIN_SHARDS`` shards (16 by default), each with a hash
tag of its own, so a Redis Cluster spreads them over its masters while everything one
script touches stays in one slot:

- a shard holds its sessions, its activity sets, its users' sets and generations, its
  sign-in records and its part of the event log;
- a session's shard is part of its id: the first two hex digits, from an unkeyed hash of
  its key (so a SECRET_KEY rotation moves a session within its shard);
- a signed-in session lives in its user's shard: a sign-in draws keys until one lands
  there (``draw_key``), so per-user limits and revocations stay one atomic script;
- the shards' tags fall in equal ranges of the 16,384 cluster slots: a cluster that
  splits its slots evenly (``redis-cli --cluster create``) holds as many on each master.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from sessionadmin.conf import get_settings
from sessionadmin.store.randomkeys import KEY_CHARS, random_chars

TOKEN_PREFIX = "sat_"  # noqa: S105 - marks a token: never taken from a cookie, nor back
ID_HEX_CHARS = 24  # the shard (2) and 88 bits of HMAC: no collision among billions
_SALT = b"sessionadmin.keys.session_id"
_SHARD_SALT = b"sessionadmin.keys.shard"


_IPAD = bytes(b ^ 0x36 for b in range(256))  # RFC 2104's pads, as translate() tables
_OPAD = bytes(b ^ 0x5C for b in range(256))


@cache
def _keyed(key_secret: str) -> tuple[Any, Any]:
    """HMAC-SHA256 under a key derived from ``key_secret`` (so unrelated to any other use
    of SECRET_KEY), its two halves already keyed: the SHA-256 states after the inner and
    the outer padded key (RFC 2104)."""
    key = hashlib.sha256(_SALT + key_secret.encode()).digest().ljust(64, b"\0")
    return hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD))


def _hash(session_key: str, key_secret: str) -> str:
    # HMAC-SHA256, byte for byte hmac.digest()'s, from copies of the keyed states: OpenSSL
    # 3's one-shot HMAC looks its digest up and keys it on every call, about 21,000
    # instructions of each request (bench/instructions.py) against about 7,000 here.
    inner, outer = _keyed(key_secret)
    inner, outer = inner.copy(), outer.copy()
    inner.update(session_key.encode())
    outer.update(inner.digest())
    return f"{key_shard(session_key):02x}{outer.hexdigest()[: ID_HEX_CHARS - 2]}"


def _shard_of(salted: bytes) -> int:
    # Unkeyed, so it survives a SECRET_KEY rotation; it tells an attacker nothing usable
    # about a key of 190 random bits.
    digest = hashlib.sha256(_SHARD_SALT + salted).digest()
    return int.from_bytes(digest[:4], "big") % get_settings().shards


def key_shard(session_key: str) -> int:
    """Return the shard of a session key (also the first two hex digits of its id)."""
    return _shard_of(b"k:" + session_key.encode())


def user_shard(user_id: str) -> int:
    """Return the shard holding a user's signed-in sessions and per-user keys."""
    return _shard_of(b"u:" + str(user_id).encode())


def id_shard(sid: str) -> int:
    """Return the shard of a public session id (any id: a forged one maps somewhere)."""
    try:
        return int(sid[:2], 16) % get_settings().shards
    except ValueError:
        return 0


_KEY_STEM = _SHARD_SALT + b"k:"  # what key_shard hashes, before the key
_LAST_CHARS = tuple(c.encode() for c in KEY_CHARS)


def draw_key(shard: int, prefix: str = "", length: int = 32) -> str:
    """Return a new random session key whose shard is ``shard``: a sign-in draws until
    its key lands in the user's shard. The last character is varied over its 36 values
    before drawing a new stem, so a draw costs about SESSIONADMIN_SHARDS hashes.

    Each candidate is key_shard's hash in one call (a draw is on every sign-in's path)."""
    shards = get_settings().shards
    sha256 = hashlib.sha256
    while True:
        stem = prefix + random_chars(length - 1)
        hashed = _KEY_STEM + stem.encode()
        for last in _LAST_CHARS:
            if int.from_bytes(sha256(hashed + last).digest()[:4], "big") % shards == shard:
                return stem + last.decode()


_generation = 0  # bumped by every change of SECRET_KEY (setting_changed, _reset)
_secret: tuple[int, str] = (-1, "")


def secret() -> str:
    """Return SECRET_KEY (each read of settings.SECRET_KEY: ~4,000 instructions), read once
    a generation: a value read just before a change is read again after it, never kept."""
    global _secret
    generation, value = _secret
    if generation != _generation:
        generation, value = _generation, settings.SECRET_KEY
        _secret = (generation, value)
    return value


def session_id(session_key: str) -> str:
    """Return the public id of a session: its shard, then a keyed hash of its key under
    SECRET_KEY."""
    return _hash(session_key, secret())


def fallback_session_ids(session_key: str) -> list[str]:
    """Return the ids the key had under SECRET_KEY_FALLBACKS, newest first."""
    return [_hash(session_key, old) for old in settings.SECRET_KEY_FALLBACKS]


def is_session_id(value: str) -> bool:
    """Return whether ``value`` has the shape of a public session id."""
    return len(value) == ID_HEX_CHARS and all(c in "0123456789abcdef" for c in value)


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: object) -> None:
    global _generation
    if setting in {"SECRET_KEY", "SECRET_KEY_FALLBACKS"}:
        _keyed.cache_clear()
        _generation += 1


@cache  # keyed by its arguments: a changed prefix or count needs no reset
def _tags(prefix: str, count: int) -> tuple[str, ...]:
    # Shard n's tag is the first "{prefix:<j>}" (j = 0, 1, ... in base 36) whose slot falls
    # in the n-th of ``count`` equal slot ranges: the shards spread evenly over any cluster
    # that gives its masters equal contiguous ranges, whatever the prefix.
    found: dict[int, str] = {}
    span = REDIS_CLUSTER_HASH_SLOTS / count
    j = 0
    while len(found) < count:
        name = f"{prefix}:{_base36(j)}"
        found.setdefault(int(key_slot(name.encode()) // span), "{" + name + "}")
        j += 1
    return tuple(found[n] for n in range(count))


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = digits[n % 36]
    while n >= 36:
        n //= 36
        out = digits[n % 36] + out
    return out


def shards() -> range:
    """Return the shard numbers, to walk every shard (listings, counts, upkeep)."""
    return range(get_settings().shards)


def prefix(shard: int) -> str:
    """Return shard ``shard``'s hash tag, the start of its keys (Lua scripts extend it)."""
    conf = get_settings()
    return _tags(conf.key_prefix, conf.shards)[shard]


def session_key_name(sid: str) -> str:
    """Hash: the session's payload and metadata (fields listed in the README)."""
    return f"{prefix(id_shard(sid))}:s:{sid}"


def guest_index(shard: int) -> str:
    """Sorted set: a shard's ids of guest sessions, scored by last activity (ms since the
    epoch; see store/scripts.py). A session is in this set or in ``auth_index``, never
    both: the shard's sessions are the two merged."""
    return f"{prefix(shard)}:guests"


def auth_index(shard: int) -> str:
    """Sorted set: a shard's ids of signed-in sessions, scored by last activity; and, for
    the grace period, the ids of those that ended by a timeout, scored below every live
    score (a tombstone, ``TOMBSTONE``: it tells a late request which timeout ended it)."""
    return f"{prefix(shard)}:auth"


def indexes(
    shard: int, *, authenticated_only: bool = False, anonymous_only: bool = False
) -> tuple[str, ...]:
    """The activity sets of a shard a listing reads: signed-in sessions, guests, or all."""
    if authenticated_only:
        return (auth_index(shard),)
    if anonymous_only:
        return (guest_index(shard),)
    return (guest_index(shard), auth_index(shard))


# How far below its last score a tombstone in ``auth_index`` is kept (lua/events.lua):
# 2^42 ms, beyond any score until the year 2109, and exact in a double with the fraction.
TOMBSTONE = 2**42


def legacy_all_index(shard: int) -> str:
    """Sorted set: where releases before the split kept every session of a shard; no
    longer read or written, removed by ``prune`` (index/upkeep.py)."""
    return f"{prefix(shard)}:all"


USER_BUCKETS = 256  # each stays a listpack to 128 users (500,000 users in 16 shards)
USER_BUCKETS_A_CALL = 64  # a script walks no more at once (lua/user_count.lua)


def users_bucket(user_id: str) -> str:
    """Sorted set: the bucket of its shard's users index holding ``user_id`` (by the SHA-1
    of the id, lua/users.lua); user ids with a session, scored by their latest activity.
    About 20 bytes a user, against about 105 in one large sorted set."""
    return _user_bucket(user_id, "users")


def _user_bucket(user_id: str, kind: str) -> str:
    # lua/users.lua's user_bucket: by the first two hex digits of the id's SHA-1.
    digest = hashlib.sha1(str(user_id).encode(), usedforsecurity=False).hexdigest()
    return f"{prefix(user_shard(user_id))}:{kind}:{digest[:2]}"


def legacy_users_index(shard: int) -> str:
    """Sorted set: where releases before the bucketing kept a shard's users index; no
    longer written, moved into the buckets by ``prune`` (index/upkeep.py)."""
    return f"{prefix(shard)}:users"


def user_index(user_id: str) -> str:
    """Sorted set: the session ids of a user with two signed-in sessions or more, scored
    by last activity; a user with one keeps it in ``single_sessions`` (lua/users.lua)."""
    return f"{prefix(user_shard(user_id))}:u:{user_id}"


def single_sessions(user_id: str) -> str:
    """Hash: where a user with one signed-in session keeps its id (field: the user id), in
    buckets as ``users_bucket``: about 36 bytes, against about 150 in ``user_index``."""
    return _user_bucket(user_id, "one")


def user_generation(user_id: str) -> str:
    """String: a counter bumped by every change of the user (auth/usercache.py)."""
    return f"{prefix(user_shard(user_id))}:g:{user_id}"


# Sign-in records, bucketed by the third and fourth hex digits of the session id: each
# bucket stays a listpack to about 128 entries (500,000 sessions in 16 shards).
SIGN_IN_BUCKETS = 256


def sign_ins(shard: int) -> str:
    """Hash: an older release's sign-in records, still read and swept, never written."""
    return f"{prefix(shard)}:w"


def sign_in_bucket(sid: str) -> str:
    """Hash: the bucket of session ``sid``'s sign-in record, "uid\tip\tdevice" (events.lua)."""
    return f"{prefix(id_shard(sid))}:w:{sid[2:4]}"


def sign_in_buckets(shard: int) -> list[str]:
    """Every bucket of a shard's sign-in records (the sweep's and the tests' walk)."""
    return [f"{prefix(shard)}:w:{n:02x}" for n in range(SIGN_IN_BUCKETS)]


def events_log(shard: int) -> str:
    """Stream: a shard's part of the capped log of session events (events.py)."""
    return f"{prefix(shard)}:ev"


def per_shard(total: int) -> int:
    """Each shard's share of a store-wide bound (the event log's cap, a search's budget)."""
    return -(-total // get_settings().shards)


def by_shard(ids: list[str]) -> dict[int, list[str]]:
    """Group public session ids by shard, keeping their order within each."""
    groups: dict[int, list[str]] = {}
    for sid in ids:
        groups.setdefault(id_shard(sid), []).append(sid)
    return groups


def shard_keys(shard: int) -> list[str]:
    """The keys of a shard every script may touch, declared in its KEYS so any cluster
    client routes it (others a script derives share the tag, so the slot)."""
    tag = prefix(shard)
    return [f"{tag}:guests", f"{tag}:auth", f"{tag}:users", f"{tag}:w", f"{tag}:ev"]


def login_attempts(bucket: str) -> str:
    """String: failed sign-ins counted in one bucket ("ip:..." or "acct:...") per window.
    Their own hash tag: a sign-in's buckets are checked and counted in one script, apart
    from any session's slot (small, short-lived keys: one slot carries them)."""
    return "{" + get_settings().key_prefix + ":login}:" + bucket


def new_sessions(network: str) -> str:
    """String: guest sessions one client network created this minute (new_sessions.py)."""
    return "{" + get_settings().key_prefix + ":new}:" + network
