"""Where a session's key lands: a guest's anywhere, a signed-in session's in its user's
shard (store/keys.py); moving a session to a key in another shard, or to its id under the
current SECRET_KEY."""

from __future__ import annotations

import secrets
from typing import Any

from sessionadmin.events import script_status
from sessionadmin.store import keys
from sessionadmin.store.client import run_script


def new_key(user_id: str | None, carry_from: str | None) -> str:
    """Return a new session key: in the user's shard when signed in, else in the shard of
    the session it carries over (``carry_from``), else anywhere."""
    if user_id:
        return keys.draw_key(keys.user_shard(user_id))
    if carry_from:
        return keys.draw_key(keys.key_shard(carry_from))
    return "".join(secrets.choice(keys.KEY_CHARS) for _ in range(32))


def take(old_key: str) -> list[Any] | None:
    """End the session ``old_key`` and return what a key in another shard inherits from
    it (take.lua), or None if it ended meanwhile."""
    sid = keys.session_id(old_key)
    shard = keys.id_shard(sid)
    reply = run_script(
        "TAKE", [keys.session_key_name(sid), *keys.shard_keys(shard)], [sid, keys.prefix(shard)]
    )
    return reply[2:] if script_status(reply) == 1 else None


def rekey(key: str) -> bool:
    """Move the session of ``key`` stored under a SECRET_KEY_FALLBACKS id to its current
    id (rekey.lua); return whether one was moved. The shard comes from the key, not the
    secret: both ids share it."""
    sid = keys.session_id(key)
    shard = keys.id_shard(sid)
    for old in keys.fallback_session_ids(key):
        script_keys = [keys.session_key_name(old), keys.session_key_name(sid)]
        if run_script(
            "REKEY", [*script_keys, *keys.shard_keys(shard)], [old, sid, keys.prefix(shard)]
        ):
            return True
    return False
