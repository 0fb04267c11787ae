"""Where a session's key lands: a guest's anywhere, a signed-in session's in its user's
shard (store/keys.py); moving a session to a key in another shard (read it, write the new
key, end the old: take.lua), or to its id under the current SECRET_KEY."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from django.contrib.sessions.backends.base import UpdateError

from sessionadmin.events import script_status
from sessionadmin.exceptions import SessionStoreUnavailable
from sessionadmin.index.actions import delete_session
from sessionadmin.store import keys
from sessionadmin.store.client import run_script


def new_key(user_id: str | None, carry_from: str | None) -> str:
    """Return a new session key: in the user's shard when signed in, else in the shard of
    the session it carries over (``carry_from``), else anywhere."""
    if user_id:
        return keys.draw_key(keys.user_shard(user_id))
    if carry_from:
        return keys.draw_key(keys.key_shard(carry_from))
    return keys.random_chars(32)


def take(old_key: str, *, end: bool) -> list[Any] | None:
    """Return what a key in another shard inherits from the session ``old_key`` (take.lua),
    ending it if ``end``; None if it is gone (ended meanwhile)."""
    sid = keys.session_id(old_key)
    shard = keys.id_shard(sid)
    script_keys = [keys.session_key_name(sid), *keys.shard_keys(shard)]
    reply = run_script("TAKE", script_keys, [sid, keys.prefix(shard), "1" if end else ""])
    return reply[2:] if script_status(reply) == 1 else None


def carried_fields(old_key: str) -> list[Any]:
    """Read what a key in another shard inherits from ``old_key``; UpdateError if it
    ended (revoked meanwhile: never carried on)."""
    found = take(old_key, end=False)
    if found is None:
        raise UpdateError
    return found


def end_carried(old_key: str, new_key: str) -> None:
    """The new key is written: end the old one. If that fails, or the old session ended
    meanwhile (revoked: never carried on), the new one is discarded (it never reached its
    client: no ending is reported), so a failure leaves the old session whole."""
    new_id = keys.session_id(new_key)
    try:
        ended = take(old_key, end=True) is not None
    except Exception:  # an outage, or a refusal (read-only replica, cluster down...)
        _discard(new_id)
        raise
    if not ended:
        _discard(new_id)
        raise UpdateError


def _discard(session_id: str) -> None:
    with suppress(SessionStoreUnavailable):  # else it times out unseen; the request fails
        delete_session(session_id, "discard")


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


class Placement:
    """Mixed into the SessionStore: where its new keys land, and moving it to its user's
    shard (``save()`` calls ``_move`` when a session's user lives in another shard)."""

    session_key: Any
    _carry_from: str | None
    _carried: tuple[str, list[Any]] | None
    _stored: bool
    create: Any
    loaded_user_id: Any
    _forget_local: Any

    def _move(self) -> None:
        self._carry_from = self.session_key if self._stored else None
        try:
            self.create()
        except UpdateError:
            self._forget_local()  # ended meanwhile: nothing of it is saved or sent back
            raise
        finally:
            self._carry_from, self._carried = None, None

    def _get_new_session_key(self) -> str:
        # No exists() round trip: WRITE's create refuses a key in use (CreateError), and
        # create() then draws again.
        return new_key(self.loaded_user_id(), self._carry_from)

    def _read_carried(self) -> list[Any]:
        # Read once per carried key (create() may retry after a key collision).
        old = self._carry_from or ""
        if self._carried is None or self._carried[0] != old:
            self._carried = (old, carried_fields(old))
        return self._carried[1]
