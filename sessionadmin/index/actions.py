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


def delete_session(sid: str, why: str = "logout") -> bool:
    """Delete a session and its index entries by public id; return whether it existed."""
    reply = run_script("DELETE", [keys.session_key_name(sid)], [sid, keys.prefix(), why])
    return bool(script_status(reply))


def revoke_user(
    user_id: str, keep_id: str | None = None, *, spare_tokens: bool = False,
    why: str = "revoked",
) -> int:  # fmt: skip
    """Delete every session of a user except ``keep_id`` (and, if asked, its tokens);
    return how many ended."""
    spare = "t" if spare_tokens else ""
    args = [keys.prefix(), user_id, keep_id or "", spare, why]
    return script_status(run_script("REVOKE_USER", [], args))


def enforce_limit(user_id: str, limit: int, keep_id: str | None, kind: str = "browser") -> int:
    """End a user's least recently active sessions of ``kind`` beyond ``limit``; return
    how many ended (browsers and tokens have limits of their own)."""
    args = [keys.prefix(), user_id, limit, keep_id or "", "t" if kind == "token" else ""]
    return script_status(run_script("ENFORCE_LIMIT", [], args))


def keep_tokens_after_password_change(user_id: str, auth_hash: str) -> int:
    """Give the user's tokens the new auth hash, so a password change keeps them."""
    args = [keys.prefix(), user_id, bytes.fromhex(auth_hash)]
    return int(run_script("REHASH_TOKENS", [], args))


def forget(ids: list[str]) -> int:
    """Drop index entries whose session is gone, reporting each signed-in one as ended by
    its timeout; return how many were dropped."""
    if not ids:
        return 0
    return script_status(run_script("FORGET", [], [keys.prefix(), *ids]))


def flag(sid: str, change: str, ip: str, device: str) -> bool:
    """Flag a signed-in session as possibly hijacked (``change``: "network" or "agent"),
    once per kind of change, logging a ``suspicious`` event; return whether it is new."""
    args = [sid, keys.prefix(), change[0], ip, device]
    return bool(run_script("FLAG", [keys.session_key_name(sid)], args))
