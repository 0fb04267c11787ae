"""Ending sessions through the index: one, all of a user's, or those over the limit.

Each is one atomic script, so a request in flight cannot write an ended session back
(its save needs the key to exist) and racing logins cannot leave more than the limit.
Each says why (``signals.ENDED_REASONS``, optionally with who acted: "revoked:staff"); the
script logs the ending and returns it, and ``events.script_status`` sends the signal.
"""

from __future__ import annotations

from sessionadmin.events import script_status
from sessionadmin.store import keys
from sessionadmin.store.client import run_script


def _session_call(sid: str) -> tuple[list[str], str]:
    # A script on one session declares its hash and its shard's keys.
    shard = keys.id_shard(sid)
    return [keys.session_key_name(sid), *keys.shard_keys(shard)], keys.prefix(shard)


def _user_call(user_id: str, script: str, *args: object) -> object:
    # A script on one user's sessions runs in the user's shard, where all of them are.
    shard = keys.user_shard(user_id)
    script_keys = [keys.user_index(user_id), *keys.shard_keys(shard)]
    return run_script(script, script_keys, [keys.prefix(shard), user_id, *args])


def delete_session(sid: str, why: str = "logout") -> bool:
    """Delete a session and its index entries by public id; return whether it existed."""
    script_keys, p = _session_call(sid)
    return bool(script_status(run_script("DELETE", script_keys, [sid, p, why])))


def revoke_user(
    user_id: str, keep_id: str | None = None, *, spare_tokens: bool = False,
    why: str = "revoked",
) -> int:  # fmt: skip
    """Delete every session of a user except ``keep_id`` (and, if asked, its tokens);
    return how many ended."""
    spare = "t" if spare_tokens else ""
    return script_status(_user_call(user_id, "REVOKE_USER", keep_id or "", spare, why))


def enforce_limit(user_id: str, limit: int, keep_id: str | None, kind: str = "browser") -> int:
    """End a user's least recently active sessions of ``kind`` beyond ``limit``; return
    how many ended (browsers and tokens have limits of their own)."""
    kind_code = "t" if kind == "token" else ""
    return script_status(_user_call(user_id, "ENFORCE_LIMIT", limit, keep_id or "", kind_code))


def keep_tokens_after_password_change(user_id: str, auth_hash: str) -> int:
    """Give the user's tokens the new auth hash, so a password change keeps them."""
    return int(_user_call(user_id, "REHASH_TOKENS", bytes.fromhex(auth_hash)))


def forget(ids: list[str]) -> int:
    """Drop index entries whose session is gone, reporting each signed-in one as ended by
    its timeout; return how many were dropped."""
    removed = 0
    for shard, found in keys.by_shard(ids).items():
        reply = run_script("FORGET", keys.shard_keys(shard), [keys.prefix(shard), *found])
        removed += script_status(reply)
    return removed


def flag(sid: str, change: str, ip: str, device: str) -> bool:
    """Flag a signed-in session as possibly hijacked (``change``: "network" or "agent"),
    once per kind of change, logging a ``suspicious`` event; return whether it is new."""
    script_keys, p = _session_call(sid)
    return bool(run_script("FLAG", script_keys, [sid, p, change[0], ip, device]))
