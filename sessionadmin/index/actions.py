"""Ending sessions through the index: one, all of a user's, or those over the limit.

Each is one atomic script, so a request in flight cannot write an ended session back
(its save needs the key to exist) and racing logins cannot leave more than the limit.
"""

from __future__ import annotations

from sessionadmin.store import keys
from sessionadmin.store.client import run_script


def delete_session(sid: str) -> bool:
    """Delete a session and its index entries by public id; return whether it existed."""
    return bool(run_script("DELETE", [keys.session_key_name(sid)], [sid, keys.prefix()]))


def revoke_user(user_id: str, keep_id: str | None = None, *, spare_tokens: bool = False) -> int:
    """Delete every session of a user except ``keep_id`` (and, if asked, its tokens);
    return how many ended."""
    spare = "t" if spare_tokens else ""
    return int(run_script("REVOKE_USER", [], [keys.prefix(), user_id, keep_id or "", spare]))


def enforce_limit(user_id: str, limit: int, keep_id: str | None, kind: str = "browser") -> int:
    """End a user's least recently active sessions of ``kind`` beyond ``limit``; return
    how many ended (browsers and tokens have limits of their own)."""
    args = [keys.prefix(), user_id, limit, keep_id or "", "t" if kind == "token" else ""]
    return int(run_script("ENFORCE_LIMIT", [], args))


def keep_tokens_after_password_change(user_id: str, auth_hash: str) -> int:
    """Give the user's tokens the new auth hash, so a password change keeps them."""
    args = [keys.prefix(), user_id, bytes.fromhex(auth_hash)]
    return int(run_script("REHASH_TOKENS", [], args))


def forget(ids: list[str]) -> int:
    """Drop index entries whose session is gone; return how many were dropped."""
    if not ids:
        return 0
    return int(run_script("FORGET", [], [keys.prefix(), *ids]))
