"""Redis key names and the keyed hash of a session key, in one place.

The store never holds a raw session key: a session's Redis key and every index entry use
``session_id(key)``, an HMAC-SHA256 of the cookie value under a key derived from
SECRET_KEY, shortened to 96 bits. A Redis dump, a MONITOR trace or a log line therefore
yields no usable cookie (Rack's fix for CVE-2019-16782). The same id is the session's
public, opaque identifier in listings and URLs.

Every key starts with the hash tag ``{prefix}``, so all of them share one Redis Cluster
slot: the index is updated in the same Lua script as the session, and a script may only
touch keys of one slot.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from sessionadmin.conf import get_settings

TOKEN_PREFIX = "sat_"  # noqa: S105 - marks a token: never taken from a cookie, nor back
ID_HEX_CHARS = 24  # 96 bits: collisions are negligible even among billions of sessions
_SALT = b"sessionadmin.keys.session_id"


@cache
def _hmac_template(secret: str) -> hmac.HMAC:
    # Derive a dedicated key, so the hash is unrelated to any other use of SECRET_KEY.
    derived = hashlib.sha256(_SALT + secret.encode()).digest()
    return hmac.new(derived, digestmod=hashlib.sha256)


def _hash(session_key: str, secret: str) -> str:
    mac = _hmac_template(secret).copy()
    mac.update(session_key.encode())
    return mac.hexdigest()[:ID_HEX_CHARS]


def session_id(session_key: str) -> str:
    """Return the public id of a session: a keyed hash of its key under SECRET_KEY."""
    return _hash(session_key, settings.SECRET_KEY)


def fallback_session_ids(session_key: str) -> list[str]:
    """Return the ids the key had under SECRET_KEY_FALLBACKS, newest first."""
    return [_hash(session_key, secret) for secret in settings.SECRET_KEY_FALLBACKS]


def is_session_id(value: str) -> bool:
    """Return whether ``value`` has the shape of a public session id."""
    return len(value) == ID_HEX_CHARS and all(c in "0123456789abcdef" for c in value)


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: object) -> None:
    if setting in {"SECRET_KEY", "SECRET_KEY_FALLBACKS"}:
        _hmac_template.cache_clear()


def _tag() -> str:
    return "{" + get_settings().key_prefix + "}"


def session_key_name(sid: str) -> str:
    """Hash: the session's payload and metadata (fields listed in the README)."""
    return f"{_tag()}:s:{sid}"


def all_index() -> str:
    """Sorted set: every session id, scored by last activity (ms since the epoch)."""
    return f"{_tag()}:all"


def auth_index() -> str:
    """Sorted set: ids of authenticated sessions, scored by last activity."""
    return f"{_tag()}:auth"


def users_index() -> str:
    """Sorted set: user ids with a session, scored by their latest activity."""
    return f"{_tag()}:users"


def user_index(user_id: str) -> str:
    """Sorted set: one user's session ids, scored by last activity."""
    return f"{_tag()}:u:{user_id}"


def user_generation(user_id: str) -> str:
    """String: a counter bumped by every change of the user (auth/usercache.py)."""
    return f"{_tag()}:g:{user_id}"


def sign_ins() -> str:
    """Hash: each signed-in session's sign-in, "uid\tip\tdevice" (store/lua/events.lua)."""
    return f"{_tag()}:w"


def events_log() -> str:
    """Stream: the capped log of session events (sessionadmin/events.py)."""
    return f"{_tag()}:ev"


def prefix() -> str:
    """Return the common start of every key, which Lua scripts extend for user keys."""
    return _tag()


def login_attempts(bucket: str) -> str:
    """String: failed sign-ins counted in one bucket ("ip:..." or "acct:...") per window.

    Their own hash tag: a sign-in's buckets are checked and counted in one script, apart
    from any session's slot.
    """
    return "{" + get_settings().key_prefix + ":login}:" + bucket


def new_sessions(network: str) -> str:
    """String: guest sessions one client network created this minute (new_sessions.py)."""
    return "{" + get_settings().key_prefix + ":new}:" + network
