"""The public functions of sessionadmin: what other apps, views and commands call.

Sessions are named by their public id (``keys.session_id``), never by their key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.base import SessionBase

from sessionadmin import index, keys
from sessionadmin.backends.redis import AUTH_USER_KEY, SessionStore, delete_by_id
from sessionadmin.conf import get_settings
from sessionadmin.devices import device_label
from sessionadmin.http import is_whole_number
from sessionadmin.index import SessionRecord

MAX_PAGE_SIZE = 200
ACTIVITY_WINDOWS = (60, 300, 900, 3600, 86400)


@dataclass(frozen=True)
class SessionPage:
    count: int
    page: int
    page_size: int
    results: list[SessionRecord]
    complete: bool = True  # False when a search stopped before examining every session


def current_session_id(session: SessionBase) -> str | None:
    """Return the public id of a request's session, or None if it has no key yet."""
    return keys.session_id(session.session_key) if session.session_key else None


def find_user_ids(text: str, limit: int = 1000) -> list[str]:
    """Return ids of users whose username contains ``text`` (any case)."""
    model = get_user_model()
    lookup = {f"{model.USERNAME_FIELD}__icontains": text}
    return [
        str(pk)
        for pk in model._default_manager.filter(**lookup).values_list("pk", flat=True)[:limit]
    ]


def resolve_user_id(value: str) -> int | None:
    """Return the id of the user named by id or username, or None."""
    model = get_user_model()
    users = model._default_manager
    if is_whole_number(value) and users.filter(pk=int(value)).exists():
        return int(value)
    found = users.filter(**{f"{model.USERNAME_FIELD}__iexact": value}).values_list("pk", flat=True)
    return found.first()


def list_sessions(
    *,
    page: int = 1,
    page_size: int = 50,
    authenticated: bool | None = None,
    user_id: int | str | None = None,
    query: str = "",
) -> SessionPage:
    """Return one page of live sessions, most recent activity first.

    Filters: ``authenticated`` (True signed-in only, False guests only), ``user_id``, and
    ``query`` matched against IP, user agent and username. A search or the guests-only
    filter scans the index in bounded batches (index.search) and may be incomplete.
    """
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    page = max(1, page)
    offset = (page - 1) * page_size
    query = query.strip()
    if user_id is not None:
        records = [] if authenticated is False else index.user_sessions(str(user_id))
        if query:
            usernames = set(find_user_ids(query))
            needle = query.lower()
            records = [
                r for r in records
                if needle in r.ip or needle in r.user_agent.lower() or r.user_id in usernames
            ]  # fmt: skip
        return SessionPage(len(records), page, page_size, records[offset : offset + page_size])
    if query or authenticated is False:
        found = index.search(
            needle=query,
            user_ids=find_user_ids(query) if query else None,
            authenticated_only=authenticated is True,
            anonymous_only=authenticated is False,
            offset=offset,
            count=page_size,
        )
        return SessionPage(found.matches, page, page_size, found.records, found.complete)
    totals = index.counts()
    count = totals["authenticated"] if authenticated else totals["active"]
    results = index.page(authenticated_only=bool(authenticated), offset=offset, count=page_size)
    return SessionPage(count=count, page=page, page_size=page_size, results=results)


def list_user_sessions(user_id: int | str) -> list[SessionRecord]:
    """Return the user's live sessions, most recent activity first."""
    return index.user_sessions(str(user_id))


def get_session(session_id: str) -> SessionRecord | None:
    """Return a live session by public id, or None."""
    if not keys.is_session_id(session_id):
        return None
    found = index.get([session_id])
    return found[0] if found else None


def revoke_session(session_id: str) -> bool:
    """End a session now, by public id; return whether it was live.

    Final: the session's own in-flight requests cannot write it back (their save needs
    the key to exist, checked atomically in the write script).
    """
    if not keys.is_session_id(session_id):
        return False
    return delete_by_id(session_id)


def revoke_own_session(user_id: int | str, session_id: str) -> bool:
    """End one of the user's own sessions; False if it is not theirs (or not live)."""
    record = get_session(session_id)
    if record is None or record.user_id != str(user_id):
        return False
    return revoke_session(session_id)


def revoke_user_sessions(user_id: int | str, keep: SessionBase | None = None) -> int:
    """End every session of a user, except ``keep`` (a session); return how many ended."""
    keep_id = current_session_id(keep) if keep is not None else None
    return index.revoke_user(str(user_id), keep_id)


def enforce_session_limit(user_id: int | str, keep: SessionBase) -> int:
    """End the user's least recently active sessions beyond SESSION_MAX_PER_USER.

    Call it right after a login, once the new session is saved; ``keep`` (that session)
    always survives. Returns how many sessions ended; 0 when the limit is off.
    """
    limit = get_settings().max_per_user
    if limit <= 0:
        return 0
    return index.enforce_limit(str(user_id), limit, current_session_id(keep))


def session_stats() -> dict[str, Any]:
    """Return counts of live sessions, and of sessions active in recent windows."""
    totals = index.counts(ACTIVITY_WINDOWS)
    return {
        "active": totals["active"],
        "authenticated": totals["authenticated"],
        "anonymous": max(totals["active"] - totals["authenticated"], 0),
        "users": totals["users"],
        "activity": {str(s): totals[f"last_{s}s"] for s in ACTIVITY_WINDOWS},
    }


def session_deadlines(session: SessionBase) -> tuple[datetime | None, datetime | None]:
    """Return (idle deadline, absolute deadline) of a loaded session, or Nones."""
    meta = getattr(session, "meta", None)
    if meta is None:
        return None, None
    conf = get_settings()
    idle = _at(meta.last_activity) + timedelta(seconds=conf.idle_timeout)
    absolute = None
    if meta.login is not None and session.get(AUTH_USER_KEY):
        absolute = _at(meta.login) + timedelta(seconds=conf.absolute_timeout)
    return idle, absolute


def keep_alive(session: SessionBase) -> bool:
    """Push the idle deadline back now (the "stay signed in" button)."""
    return isinstance(session, SessionStore) and session.touch()


def serialize_sessions(
    records: list[SessionRecord], *, current_id: str | None = None
) -> list[dict[str, Any]]:
    """Return API.md's session objects; usernames are read in one query."""
    user_ids = {r.user_id for r in records if r.user_id}
    usernames: dict[str, str] = {}
    if user_ids:
        model = get_user_model()
        valid = [u for u in user_ids if is_whole_number(u)]
        for pk, name in model._default_manager.filter(pk__in=valid).values_list(
            "pk", model.USERNAME_FIELD
        ):
            usernames[str(pk)] = name
    return [session_to_dict(r, current_id=current_id, usernames=usernames) for r in records]


def session_to_dict(
    record: SessionRecord, *, current_id: str | None, usernames: dict[str, str]
) -> dict[str, Any]:
    """Return one session object in API.md's shape."""
    user = None
    if record.user_id:
        user = {"id": _user_pk(record.user_id), "username": usernames.get(record.user_id)}
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
    }


def _user_pk(user_id: str) -> int | str:
    return int(user_id) if is_whole_number(user_id) else user_id


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
