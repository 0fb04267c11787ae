"""A process's memo of public session ids: a returning key's id without its hashes.

``keys.session_id()`` costs four SHA-256 blocks and the Python around them, about 30,000
instructions (``bench/instructions.py``), and every request of a session needs its id.
Here a key this process has seen is found by a BLAKE2s of it under a random key of this
process only (about 5,000). The memo holds public ids and digests that no one can tie
to a cookie without that key: never a session key, here as in Redis.
"""

from __future__ import annotations

import hashlib
import secrets

from django.core.signals import setting_changed
from django.dispatch import receiver

from sessionadmin.store import keys

MAX_IDS = 10_000  # about 1.5 MB a process; emptied whole when full (keys churn by then)
_tagger = hashlib.blake2s(key=secrets.token_bytes(32), digest_size=16)  # keyed once
_ids: dict[bytes, str] = {}


def session_id(session_key: str) -> str:
    """Return ``keys.session_id(session_key)``, from the memo when the key was seen."""
    tagger = _tagger.copy()
    tagger.update(session_key.encode())
    tag = tagger.digest()
    found = _ids.get(tag)
    if found is None:
        if len(_ids) >= MAX_IDS:
            _ids.clear()
        found = _ids[tag] = keys.session_id(session_key)
    return found


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: object) -> None:
    # An id is a hash under SECRET_KEY, and starts with its shard (SESSIONADMIN_SHARDS).
    if setting in {"SECRET_KEY", "SESSIONADMIN_SHARDS"}:
        _ids.clear()
