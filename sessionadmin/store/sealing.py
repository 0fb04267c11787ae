"""Session values never stored as they are: Django's CSRF secret, which the session keeps
(``_csrftoken``) when a project sets ``CSRF_USE_SESSIONS``. Read from a Redis dump, a
replica or a MONITOR trace, it would let anyone forge the CSRF token of that session.

Such a value is sealed under a key derived from the session's own key, the cookie value,
which the store never holds (keys.py), so what Redis holds opens for nobody but the
session's holder. The construction, from the standard library: HMAC-SHA256 as a
pseudo-random function in counter mode under a random 16-byte nonce, then an 8-byte
HMAC tag over nonce and ciphertext (encrypt-then-MAC, each with its own derived key).
A value that does not open (sealed under another key, altered) is dropped on reading:
Django then makes a new secret, as for a session that had none. A value stored before
this release, unsealed, is read as it is and sealed by the session's next write.

A session without such a value pays one dict lookup per read and per write.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

SEALED_KEY = "_csrftoken"  # django.middleware.csrf.CSRF_SESSION_KEY
_MARK = "sealed1:"  # never the start of a CSRF secret (letters and digits only)
_NONCE, _TAG = 16, 8


def _keys(session_key: str) -> tuple[bytes, bytes]:
    raw = session_key.encode()
    return (
        hmac.digest(b"sessionadmin.sealing.stream", raw, hashlib.sha256),
        hmac.digest(b"sessionadmin.sealing.tag", raw, hashlib.sha256),
    )


def _stream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (length + 31) // 32
    out = b"".join(hmac.digest(key, nonce + n.to_bytes(4, "big"), "sha256") for n in range(blocks))
    return out[:length]


def _xor(data: bytes, stream: bytes) -> bytes:
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")


def seal(value: str, session_key: str) -> str:
    """Return ``value`` sealed under ``session_key`` (text, for the JSON payload)."""
    stream_key, tag_key = _keys(session_key)
    data, nonce = value.encode(), secrets.token_bytes(_NONCE)
    body = nonce + _xor(data, _stream(stream_key, nonce, len(data)))
    tag = hmac.digest(tag_key, body, "sha256")[:_TAG]
    return _MARK + base64.urlsafe_b64encode(body + tag).decode()


def unseal(value: object, session_key: str) -> object | None:
    """Return the value ``seal`` sealed, a value stored unsealed as it is, or None for a
    sealed value that does not open under ``session_key``."""
    if not isinstance(value, str) or not value.startswith(_MARK):
        return value
    try:
        sealed = base64.urlsafe_b64decode(value[len(_MARK) :])
    except ValueError:
        return None
    body, tag = sealed[:-_TAG], sealed[-_TAG:]
    stream_key, tag_key = _keys(session_key)
    if len(body) < _NONCE or not hmac.compare_digest(
        hmac.digest(tag_key, body, "sha256")[:_TAG], tag
    ):
        return None
    nonce, ciphertext = body[:_NONCE], body[_NONCE:]
    try:
        return _xor(ciphertext, _stream(stream_key, nonce, len(ciphertext))).decode()
    except UnicodeDecodeError:
        return None


def sealed_copy(data: dict[str, Any], session_key: str) -> dict[str, Any]:
    """Return a copy of ``data`` (which has SEALED_KEY) with that value sealed; a value
    that is not text (never Django's) stays as it is."""
    value = data[SEALED_KEY]
    return {**data, SEALED_KEY: seal(value, session_key)} if isinstance(value, str) else data


def open_in_place(data: dict[str, Any], session_key: str) -> None:
    """Open the sealed value of ``data`` (which has SEALED_KEY); drop it if it does not."""
    opened = unseal(data[SEALED_KEY], session_key)
    if opened is None:
        del data[SEALED_KEY]
    else:
        data[SEALED_KEY] = opened
