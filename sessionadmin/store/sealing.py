"""Session values never stored as they are: Django's CSRF secret, which the session keeps
(``_csrftoken``) when a project sets ``CSRF_USE_SESSIONS``. Read from a Redis dump, a
replica or a MONITOR trace, it would let anyone forge the CSRF token of that session.

Such a value is sealed under a key derived from the session's own key, the cookie value,
which the store never holds (keys.py), so what Redis holds opens for nobody but the
session's holder. The construction, from the standard library: HMAC-SHA256 as a
pseudo-random function in counter mode under a random 16-byte nonce, then an 8-byte
HMAC tag over nonce and ciphertext (encrypt-then-MAC, each with its own derived key).

The sealed bytes go in front of the payload (``d``), raw: byte 1, their length, then
them, then the payload's JSON as before. A 32-character secret takes 58 bytes, so a
session whose payload is only that stays under the 64 bytes a compact hash value may
have (scripts.py). A value that does not open (sealed under another key, altered) is
dropped on reading, and logged: Django then makes a new secret, as for a session that
had none. A secret an earlier release stored in the JSON is read as it is, and sealed by
the session's next write (anyone who can write to Redis can do worse than plant one).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Any

from sessionadmin.store import codec

SEALED_KEY = "_csrftoken"  # django.middleware.csrf.CSRF_SESSION_KEY
MARK = b"\x01"  # never the first byte of JSON
_NONCE, _TAG = 16, 8
security_logger = logging.getLogger("django.security.SuspiciousSession")


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


def seal(value: str, session_key: str) -> bytes:
    """Return ``value`` sealed under ``session_key``: nonce, ciphertext, tag."""
    stream_key, tag_key = _keys(session_key)
    data, nonce = value.encode(), secrets.token_bytes(_NONCE)
    body = nonce + _xor(data, _stream(stream_key, nonce, len(data)))
    return body + hmac.digest(tag_key, body, "sha256")[:_TAG]


def unseal(sealed: bytes, session_key: str) -> str | None:
    """Return the value ``seal`` sealed, or None if it does not open under the key."""
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


def dumps(data: dict[str, Any], session_key: str) -> bytes:
    """The payload of ``data`` (which has SEALED_KEY): its secret sealed in front, the
    rest as JSON (codec.dumps). A value that is not text (never Django's) stays JSON."""
    value = data[SEALED_KEY]
    if not isinstance(value, str) or not value.isascii() or len(value) > 200:
        return codec.dumps(data)
    sealed = seal(value, session_key)
    rest = {k: v for k, v in data.items() if k != SEALED_KEY}
    return MARK + bytes([len(sealed)]) + sealed + codec.dumps(rest)


def loads(payload: bytes, session_key: str, sid: str) -> dict[str, Any] | None:
    """The session data of a payload ``dumps`` made (starts with MARK), its secret opened;
    None if the payload is corrupt, as codec.loads."""
    size = payload[1] if len(payload) > 1 else 0
    sealed, rest = payload[2 : 2 + size], payload[2 + size :]
    data = codec.loads(rest)
    if data is None or len(sealed) != size:
        return None
    value = unseal(sealed, session_key)
    if value is None:
        security_logger.warning("Session's CSRF secret does not open (id %s)", sid)
    else:
        data[SEALED_KEY] = value
    return data
