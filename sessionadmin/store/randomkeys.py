"""Random session keys' characters, drawn from the system's CSPRNG (store/keys.py draws
whole keys from them)."""

from __future__ import annotations

import secrets

from django.contrib.sessions.backends.base import VALID_KEY_CHARS

KEY_CHARS = VALID_KEY_CHARS  # a drawn key is shaped as Django's own

# random_chars(): a byte below _USABLE (252 = 7 * 36) modulo 36 is uniform over KEY_CHARS;
# the bytes at or above it are dropped (rejection sampling, as secrets.choice does).
_USABLE = 256 - 256 % len(KEY_CHARS)
_CHAR_OF_BYTE = bytes(ord(KEY_CHARS[b % len(KEY_CHARS)]) for b in range(256))
_UNUSABLE = bytes(range(_USABLE, 256))


def random_chars(length: int) -> str:
    """Return ``length`` characters drawn uniformly from KEY_CHARS by the system's CSPRNG,
    as get_random_string() does, but from one read of it rather than one per character
    (31 ``getrandom`` calls took about 90 µs of every sign-in)."""
    drawn = b""
    while len(drawn) < length:
        drawn += secrets.token_bytes(length + 8).translate(_CHAR_OF_BYTE, _UNUSABLE)
    return drawn[:length].decode()
