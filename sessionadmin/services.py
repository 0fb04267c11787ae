"""The public functions of sessionadmin: what a project's apps, views and commands call.

Sessions are named by their public id (``store.keys.session_id``), never by their key;
users by their primary key, of any type (``auth.users``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

from sessionadmin.auth import limits, users
from sessionadmin.backends import preloaded
from sessionadmin.backends.redis import SessionStore
from sessionadmin.conf import get_settings
from sessionadmin.devices import device_label
from sessionadmin.index import actions, queries, search
from sessionadmin.index.records import SessionRecord, at
from sessionadmin.listing_params import MAX_PAGE_SIZE, parse_listing_filters
from sessionadmin.store import keys
from sessionadmin.timeouts import session_deadlines

__all__ = [
    "MAX_PAGE_SIZE",
    "SessionPage",
    "SessionRecord",
    "current_session_id",
    "current_session_record",
    "end_other_sessions_after_password_change",
    "get_session",
    "keep_alive",
    "list_sessions",
    "list_user_sessions",
    "login_lookup",
    "login_refusal",
    "parse_listing_filters",
    "resolve_user_id",
    "revoke_own_session",
    "revoke_session",
    "revoke_user_sessions",
    "serialize_sessions",
    "session_deadlines",
    "session_stats",
    "user_id_of",
]

ACTIVITY_WINDOWS = (60, 300, 900, 3600, 86400)


@dataclass(frozen=True)
class SessionPage:
    count: int
    page: int
    page_size: int
    results: list[SessionRecord]
    complete: bool = True  # False when a search stopped before examining every session
    next_cursor: str | None = None  # with a cursor: where the next page starts (None: end)


def current_session_id(session: SessionBase) -> str | None:
    """Return the public id of a request's session, or None if it has no key yet."""
    if isinstance(session, SessionStore):
        return session.session_id  # hashed once per key
    return keys.session_id(session.session_key) if session.session_key else None


def current_session_record(session: SessionBase) -> SessionRecord | None:
    """Return the request's own session as listings show it, from what its one read found
    (no second round trip); None for a session not stored (yet)."""
    meta = getattr(session, "meta", None)
    if meta is None or not session.session_key:
        return None
    return SessionRecord(
        id=current_session_id(session),
        user_id=meta.user_id or None,
        ip=meta.ip,
        user_agent=meta.user_agent,
        created_at=at(meta.created),
        last_activity=at(meta.last_activity),
        login_at=at(meta.login) if meta.login else None,
        expires_at=at(meta.expires),
        requests=meta.requests,
        kind=meta.kind,
        name=meta.name,
        flags=meta.flags,
    )


def resolve_user_id(value: str) -> str | None:
    """Return the stored id of the user named by ``value`` (an id or a username), or None."""
    return users.resolve_user(value)


def user_id_of(value: str) -> str | None:
    """Return the stored id of the user whose primary key ``value`` names, or None."""
    return users.existing_user_key(value)


def list_sessions(
    *,
    page: int = 1,
    page_size: int = 50,
    authenticated: bool | None = None,
    user_id: Any = None,
    query: str = "",
    kind: str = "",
    cursor: str | None = None,
) -> SessionPage:
    """Return one page of live sessions, most recent activity first.

    Filters: ``authenticated`` (True signed-in only, False guests only), ``user_id``,
    ``query`` matched against IP, user agent and username, and ``kind`` ("browser" or
    "token"). A search or the kind filter scans the index in bounded batches
    (index.search) and may be incomplete; every other listing is an exact page of the
    activity sets (all sessions, the signed-in ones or the guests).
    """
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    page = max(1, page)
    offset = (page - 1) * page_size
    query = query.strip()
    if user_id is not None:
        records = [] if authenticated is False else list_user_sessions(user_id)
        if kind:
            records = [r for r in records if r.kind == kind]
        if query:
            named = set(users.find_user_ids(query))
            needle = query.lower()
            records = [
                r for r in records
                if needle in r.ip or needle in r.user_agent.lower() or r.user_id in named
            ]  # fmt: skip
        return SessionPage(len(records), page, page_size, records[offset : offset + page_size])
    if query or kind:
        found = search.search(
            needle=query,
            user_ids=users.find_user_ids(query) if query else None,
            authenticated_only=authenticated is True,
            anonymous_only=authenticated is False,
            kind=kind,
            offset=offset,
            count=page_size,
        )
        return SessionPage(found.matches, page, page_size, found.records, found.complete)
    totals = queries.counts()
    count = totals[{None: "active", True: "authenticated", False: "anonymous"}[authenticated]]
    sets = {"authenticated_only": authenticated is True, "anonymous_only": authenticated is False}
    if cursor is not None:  # the same cost at any depth (index.queries.page_after)
        results, after = queries.page_after(
            **sets, cursor=queries.decode_cursor(cursor), count=page_size
        )
        return SessionPage(
            count, page, page_size, results, next_cursor=queries.encode_cursor(after)
        )
    results = queries.page(**sets, offset=offset, count=page_size)
    return SessionPage(count=count, page=page, page_size=page_size, results=results)


def list_user_sessions(user_id: Any, session: SessionBase | None = None) -> list[SessionRecord]:
    """Return the user's live sessions, most recent activity first.

    With the request's ``session``, in a view marked ``decorators.lists_own_sessions``,
    they are the ones its LOAD already read (no second round trip).
    """
    loaded = preloaded.of(session)
    if loaded and loaded.own_sessions is not None and loaded.user_id == users.user_key(user_id):
        # The request's own session as it is now (a hijack flag raised after the LOAD).
        current = current_session_record(session)
        return [current if current and r.id == current.id else r for r in loaded.own_sessions]
    return queries.user_sessions(users.user_key(user_id))


def get_session(session_id: str) -> SessionRecord | None:
    """Return a live session by public id, or None."""
    if not keys.is_session_id(session_id):
        return None
    found = queries.get([session_id])
    return found[0] if found else None


def _why(reason: str, by: str) -> str:
    return f"{reason}:{by}" if by else reason


def revoke_session(session_id: str, *, by: str = "", reason: str = "revoked") -> bool:
    """End a session now, by public id; return whether it was live.

    Final: the session's own in-flight requests cannot write it back (their save needs
    the key to exist, checked atomically in the write script). ``by`` (staff, user,
    command) and ``reason`` ("logout" for a token ending itself) go with its
    ``session_ended`` signal and event.
    """
    if not keys.is_session_id(session_id):
        return False
    return actions.delete_session(session_id, _why(reason, by))


def revoke_own_session(user_id: Any, session_id: str) -> bool:
    """End one of the user's own sessions; False if it is not theirs (or not live)."""
    record = get_session(session_id)
    if record is None or record.user_id != users.user_key(user_id):
        return False
    return revoke_session(session_id, by="user")


def revoke_user_sessions(user_id: Any, keep: SessionBase | None = None, *, by: str = "") -> int:
    """End every session of a user, except ``keep`` (a session); return how many ended.

    ``by`` says who: "user" (signing out their other sessions), "staff", "command".
    """
    keep_id = current_session_id(keep) if keep is not None else None
    _forget_listing(keep)
    return actions.revoke_user(users.user_key(user_id), keep_id, why=_why("revoked", by))


def end_other_sessions_after_password_change(user: Any, keep: SessionBase | None) -> int:
    """End every other session of a user whose password just changed (every one, with
    ``keep`` None); return how many.

    Tokens end too, unless SESSIONADMIN_TOKENS_SURVIVE_PASSWORD_CHANGE: then they are given
    the new auth hash and go on.
    """
    key, why = users.user_key(user.pk), "password_changed"
    _forget_listing(keep)
    keep_id = current_session_id(keep) if keep is not None else None
    if not get_settings().tokens_survive_password_change:
        return actions.revoke_user(key, keep_id, why=why)
    actions.keep_tokens_after_password_change(key, user.get_session_auth_hash())
    return actions.revoke_user(key, keep_id, spare_tokens=True, why=why)


def _forget_listing(session: SessionBase | None) -> None:
    # The user's sessions its LOAD listed are no longer what the store holds.
    loaded = getattr(session, "preloaded", None)
    if loaded is not None:
        loaded.own_sessions = None


def session_stats() -> dict[str, Any]:
    """Return counts of live sessions, and of sessions active in recent windows."""
    totals = queries.counts(ACTIVITY_WINDOWS, users=True)
    return {
        "active": totals["active"],
        "authenticated": totals["authenticated"],
        "anonymous": totals["anonymous"],
        "users": totals["users"],
        "activity": {str(s): totals[f"last_{s}s"] for s in ACTIVITY_WINDOWS},
    }


def keep_alive(session: SessionBase) -> bool:
    """Push the idle deadline back now (the "stay signed in" button)."""
    return isinstance(session, SessionStore) and session.touch()


def login_refusal(request: HttpRequest) -> limits.LoginLimited | None:
    """Return why the login limit refused this request's sign-in, if it did.

    ``authenticate()`` then returned None without checking the password; a view that
    answers itself can say so (429 with ``retry_after``) instead of "wrong password".
    """
    return limits.refusal(request)


def login_lookup(request: HttpRequest | None, field: str, name: str) -> list[Any] | None:
    """The users (first two by primary key) whose ``field`` is ``name`` in any case, as
    the login limit read them during this request's sign-in; None if it did not. A
    backend looking the user up the same way takes them from here: no second query."""
    return limits.looked_up(request, field, name)


def serialize_sessions(
    records: list[SessionRecord], *, current_id: str | None = None, owner: Any = None
) -> list[dict[str, Any]]:
    """Return API.md's session objects; usernames are read in one query, or in none when
    every record is of ``owner`` (the signed-in user, listing their own sessions)."""
    wanted = {r.user_id for r in records if r.user_id}
    if owner is not None and wanted <= {users.user_key(owner.pk)}:
        names = {users.user_key(owner.pk): owner.get_username()}
    else:
        names = users.usernames(wanted)
    return [session_to_dict(r, current_id=current_id, usernames=names) for r in records]


def session_to_dict(
    record: SessionRecord, *, current_id: str | None, usernames: dict[str, str]
) -> dict[str, Any]:
    """Return one session object in API.md's shape."""
    user = None
    if record.user_id:
        user = {
            "id": users.json_user_id(record.user_id),
            "username": usernames.get(record.user_id),
        }
    return {
        "id": record.id,
        "current": record.id == current_id,
        "user": user,
        "ip": record.ip,
        "user_agent": record.user_agent,
        "device": device_label(record.user_agent),
        "created_at": record.created_at.isoformat(),
        "last_activity": record.last_activity.isoformat(),
        "login_at": record.login_at.isoformat() if record.login_at else None,
        "expires_at": record.expires_at.isoformat(),
        "requests": record.requests,
        "kind": record.kind,
        "name": record.name or None,
        "suspicious": record.suspicious,
    }
