"""How a session dict is stored: django.contrib.auth's fields apart and compact, the rest
as JSON (orjson), never pickle.
"""

from __future__ import annotations

import hashlib
import socket
from contextlib import suppress
from functools import cache
from typing import Any, NamedTuple

import orjson
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# django.contrib.auth's session keys, without importing auth (the engine loads early).
AUTH_USER_KEY = "_auth_user_id"
AUTH_BACKEND_KEY = "_auth_user_backend"
AUTH_HASH_KEY = "_auth_user_hash"
_DUMPS_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps(data: dict[str, Any]) -> bytes:
    """Return the stored payload of the session's other fields (b"" when there are none)."""
    return orjson.dumps(data, option=_DUMPS_OPTIONS) if data else b""


def loads(payload: bytes) -> dict[str, Any] | None:
    """Return the payload as a dict, or None if it is not one (corrupt or tampered)."""
    try:
        data = orjson.loads(payload) if payload else {}
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


@cache
def _codes(path: str) -> tuple[str, str]:
    # A short digest, not a list index: reordering AUTHENTICATION_BACKENDS must not make a
    # stored session name another backend. Four hex digits (4 bytes less in each session's
    # hash); eight for a backend whose four another configured backend shares, and as
    # releases before stored them (still read).
    digest = hashlib.sha256(path.encode()).hexdigest()
    return digest[:4], digest[:8]


@cache
def _backends_by_code() -> dict[str, str]:
    # A code two configured backends share names neither: a session stored under it
    # before the second was added loads signed out, never as the other backend's.
    found: dict[str, str | None] = {}
    for path in settings.AUTHENTICATION_BACKENDS:
        for code in _codes(path):
            found[code] = path if found.get(code, path) == path else None
    return {code: path for code, path in found.items() if path}


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: object) -> None:
    if setting == "AUTHENTICATION_BACKENDS":
        _backends_by_code.cache_clear()


def _backend_code(path: object) -> str:
    """The code of a configured backend's path; "" for anything else."""
    if not isinstance(path, str):
        return ""
    by_code = _backends_by_code()
    for code in _codes(path):
        if by_code.get(code) == path:
            return code
    return ""


def split_auth_fields(data: dict[str, Any]) -> tuple[dict[str, Any], str, str, bytes | str]:
    """Take what django.contrib.auth keeps in a session out of the payload, compactly.

    Return (the rest, user id, backend code, raw auth hash). The user id is stored anyway
    (the index needs it); a configured backend becomes a short digest of its path and the
    64-hex-digit hash 32 raw bytes, so the hash stays a listpack (see scripts.py). Values
    of any other shape stay in the payload.
    """
    user_id = str(data.get(AUTH_USER_KEY) or "")
    if not user_id:
        return data, "", "", ""
    rest = dict(data)
    del rest[AUTH_USER_KEY]
    code = _backend_code(rest.get(AUTH_BACKEND_KEY))
    if code:
        del rest[AUTH_BACKEND_KEY]
    raw = _raw_auth_hash(rest.get(AUTH_HASH_KEY))
    if raw:
        del rest[AUTH_HASH_KEY]
    return rest, user_id, code, raw or ""


def _raw_auth_hash(auth_hash: object) -> bytes:
    """A session auth hash as the hash's ``h`` keeps it (32 raw bytes), if it is 64 lowercase
    hex digits (Django's); b"" for any other value, which stays in the payload."""
    if not isinstance(auth_hash, str) or len(auth_hash) != 64:
        return b""
    with suppress(ValueError):
        raw = bytes.fromhex(auth_hash)
        if raw.hex() == auth_hash:
            return raw
    return b""


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


def reason_from_score(score: bytes | str) -> str | None:
    """Return which timeout ended a session whose hash is gone, from its index score."""
    # An index entry without its hash means the TTL ended the session (deletes remove
    # the entry); the score's fraction says which deadline was binding (write.lua).
    if not score:
        return None
    return "absolute" if float(score) % 1 >= 0.25 else "idle"


# Named tuples, not frozen dataclasses: every request builds one of each, and a frozen
# dataclass's __init__ sets each field through object.__setattr__.
class ClientInfo(NamedTuple):
    """What the activity record keeps of the request: client IP and user agent."""

    ip: str = ""
    user_agent: str = ""


# The client of a store no request gave one (a task's, Channels', a shell's): its writes
# are no activity (the write's "quiet" mode) and its sign-ins report themselves.
NO_CLIENT = ClientInfo()


class SessionMeta(NamedTuple):
    """The stored activity record of a loaded session (times in ms since the epoch)."""

    user_id: str
    created: int
    last_activity: int
    login: int | None
    requests: int
    kind: str = "browser"  # or "token" (sessionadmin.tokens)
    ip: str = ""
    user_agent: str = ""
    name: str = ""  # a token's label
    expires: int = 0  # when its TTL runs out
    flags: str = ""  # hijack flags: "n" its network changed, "a" its agent (flag.lua)


def ip_text(stored: bytes) -> str:
    """The client IP as a session's hash keeps it: an IPv4 address packed (agent.lua)."""
    if len(stored) == 5 and stored[0] == 2:
        return socket.inet_ntoa(stored[1:])
    return stored.decode()


def meta_from_fields(
    fields: dict[bytes, bytes], agent: str, ttl: int, now: int, counted: bool
) -> SessionMeta:
    """Return the record of a session from its hash's fields as a read found them (with
    its agent resolved, its TTL in ms, and one request more if ``counted`` after them)."""
    get = fields.get
    # No ``l`` in a signed-in session: its sign-in made it, at ``c`` (write.lua).
    login = get(b"l") or (get(b"u") and get(b"c"))
    return SessionMeta(  # positional, in the fields' order: this runs on every request
        get(b"u", b"").decode(),
        int(get(b"c") or 0),
        int(get(b"a") or 0),
        int(login) if login else None,
        int(get(b"n") or 0) + counted,
        "token" if get(b"k") == b"t" else "browser",
        ip_text(get(b"ip", b"")),
        agent,
        get(b"nm", b"").decode(errors="replace"),
        now + max(int(ttl), 0),
        get(b"f", b"").decode(),
    )
