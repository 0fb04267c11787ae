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

from sessionadmin.conf import get_settings
from sessionadmin.store import keys

MAX_IDS = 10_000  # about 1.5 MB a process; emptied whole when full (keys churn by then)
try:
    _tagger = hashlib.blake2s(key=secrets.token_bytes(32), digest_size=16)  # keyed once
except (ValueError, AttributeError):  # a Python for FIPS mode may refuse BLAKE2: SHA-256
    # of a secret prefix then (a digest of a fixed-length key: no extension to fear)
    _tagger = hashlib.sha256(secrets.token_bytes(64))
# The ids and what they were made under: an id is a hash under SECRET_KEY that starts with
# its shard, so a change of either (keys.secret() follows setting_changed) starts afresh.
_memo: tuple[tuple[str, int], dict[bytes, str]] = (("", 0), {})


def session_id(session_key: str) -> str:
    """Return ``keys.session_id(session_key)``, from the memo when the key was seen."""
    global _memo
    now = (keys.secret(), get_settings().shards)
    if _memo[0] != now:
        _memo = (now, {})
    ids = _memo[1]
    tagger = _tagger.copy()
    tagger.update(session_key.encode())
    tag = tagger.digest()
    found = ids.get(tag)
    if found is None:
        if len(ids) >= MAX_IDS:
            ids.clear()
        # Made under keys.secret() again: if SECRET_KEY changed since ``now`` was read, this
        # goes into a memo the next call replaces, never into the new one.
        found = ids[tag] = keys.session_id(session_key)
    return found
