"""The index of active sessions: list, count, fetch and prune, without scanning keys.

Writes to the index happen in the session's own scripts (backends/redis.py); this module
reads it. Every listing is a bounded range over a sorted set plus one HMGET per listed
session, inside one Lua script, so no command is proportional to the number of sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sessionadmin import keys
from sessionadmin.backends.redis import now_ms, redis_client, redis_errors, run_script
from sessionadmin.conf import get_settings

PRUNE_BATCH = 500


@dataclass(frozen=True)
class SessionRecord:
    """One active session as the index sees it (never its key or its data)."""

    id: str
    user_id: str | None
    ip: str
    user_agent: str
    created_at: datetime
    last_activity: datetime
    login_at: datetime | None
    expires_at: datetime
    requests: int


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _record(row: list, now: int) -> SessionRecord:
    sid, uid, created, activity, login, requests, ip, ua, pttl = row
    activity_ms = int(activity)
    return SessionRecord(
        id=sid.decode(),
        user_id=uid.decode() or None,
        ip=ip.decode(),
        user_agent=ua.decode(errors="replace"),
        created_at=_dt(int(created or activity_ms)),
        last_activity=_dt(activity_ms),
        login_at=_dt(int(login)) if login else None,
        expires_at=_dt(now + max(int(pttl), 0)),
        requests=int(requests),
    )


def active_since() -> int:
    """Return the lowest activity score (ms) a live session can have now."""
    return now_ms() - get_settings().idle_timeout * 1000


def _run(name: str, args: list) -> list[SessionRecord]:
    now = now_ms()
    rows = run_script(name, [], [keys.prefix(), *args])
    return [_record(row, now) for row in rows]


def page(*, authenticated_only: bool, offset: int, count: int) -> list[SessionRecord]:
    """Return ``count`` sessions from ``offset``, most recent activity first."""
    name = "auth" if authenticated_only else "all"
    return _run("PAGE", [name, active_since(), offset, count])


SEARCH_BATCH = 25  # entries one script call examines: ~0.25 ms at 1,000,000 sessions
SEARCH_MAX = 25_000  # entries one search examines at most


@dataclass(frozen=True)
class SearchResult:
    records: list[SessionRecord]
    matches: int  # matches found among the entries examined
    complete: bool  # False when the search stopped at SEARCH_MAX entries


def search(
    *,
    needle: str = "",
    user_ids: list[str] | None = None,
    authenticated_only: bool = False,
    anonymous_only: bool = False,
    offset: int = 0,
    count: int = 50,
) -> SearchResult:
    """Return sessions matching ``needle`` (in IP or user agent) or one of ``user_ids``.

    Scans the activity index newest first in batches of SEARCH_BATCH, each a single
    short script, and stops after SEARCH_MAX entries: Redis is never blocked for long.
    """
    since = active_since()
    name = "auth" if authenticated_only else "all"
    uids = "," + ",".join(user_ids) + "," if user_ids else ""
    found: list[SessionRecord] = []
    matches = examined = 0
    now = now_ms()
    while examined < SEARCH_MAX:
        reply = run_script(
            "SEARCH",
            [],
            [keys.prefix(), name, since, examined, SEARCH_BATCH, needle.lower(), uids,
             "1" if anonymous_only else "0"],
        )  # fmt: skip
        scanned, rows = int(reply[0]), reply[1:]
        for row in rows:
            if offset <= matches < offset + count:
                found.append(_record(row, now))
            matches += 1
        examined += scanned
        if scanned < SEARCH_BATCH:
            return SearchResult(found, matches, complete=True)
    return SearchResult(found, matches, complete=False)


def anonymous_ids(batch: int = SEARCH_BATCH):
    """Yield (ids of guest sessions, entries examined) batch by batch, over the whole index.

    For commands, not requests: it walks every entry, in short script calls.
    """
    since, offset = active_since(), 0
    while True:
        reply = run_script("SEARCH", [], [keys.prefix(), "all", since, offset, batch, "", "", "1"])
        scanned = int(reply[0])
        yield [row[0].decode() for row in reply[1:]], scanned
        offset += scanned
        if scanned < batch:
            return


def index_size() -> int:
    """Return how many entries the activity index holds (live and ended)."""
    with redis_errors():
        return int(redis_client().zcard(keys.all_index()))


def user_sessions(user_id: str, limit: int = 1000) -> list[SessionRecord]:
    """Return a user's live sessions, most recent activity first."""
    return _run("USER_PAGE", [user_id, limit])


def get(ids: list[str]) -> list[SessionRecord]:
    """Return the records of the given ids that are still alive, in the same order."""
    return _run("GET", ids) if ids else []


def counts(windows_seconds: tuple[int, ...] = ()) -> dict[str, int]:
    """Return live counts: sessions, authenticated sessions, users, and per activity window."""
    since = active_since()
    client = redis_client()
    now = now_ms()
    with redis_errors():
        pipe = client.pipeline(transaction=False)
        pipe.zcount(keys.all_index(), since, "+inf")
        pipe.zcount(keys.auth_index(), since, "+inf")
        pipe.zcount(keys.users_index(), since, "+inf")
        for seconds in windows_seconds:
            pipe.zcount(keys.all_index(), max(since, now - seconds * 1000), "+inf")
        active, auth, users, *windows = pipe.execute()
    result = {"active": active, "authenticated": auth, "users": users}
    result.update({f"last_{s}s": n for s, n in zip(windows_seconds, windows, strict=True)})
    return result


def revoke_user(user_id: str, keep_id: str | None = None) -> int:
    """Delete every session of a user except ``keep_id``; return how many ended."""
    return int(run_script("REVOKE_USER", [], [keys.prefix(), user_id, keep_id or ""]))


def enforce_limit(user_id: str, limit: int, keep_id: str | None) -> int:
    """End a user's least recently active sessions beyond ``limit``; return how many."""
    return int(run_script("ENFORCE_LIMIT", [], [keys.prefix(), user_id, limit, keep_id or ""]))


def forget(ids: list[str]) -> int:
    """Drop index entries whose session is gone; return how many were dropped."""
    if not ids:
        return 0
    return int(run_script("FORGET", [], [keys.prefix(), *ids]))


def prune() -> int:
    """Remove index entries of ended sessions; return how many session entries went.

    Entries older than the idle timeout plus a grace period go by score; the rest are
    checked against their hash in batches, so no single command blocks Redis for long.
    """
    conf = get_settings()
    client = redis_client()
    cutoff = now_ms() - (conf.idle_timeout + conf.index_grace) * 1000
    removed = 0
    with redis_errors():
        removed += client.zremrangebyscore(keys.all_index(), "-inf", cutoff)
        client.zremrangebyscore(keys.auth_index(), "-inf", cutoff)
        client.zremrangebyscore(keys.users_index(), "-inf", cutoff)
        # Entries of the last idle period whose hash is gone are kept: they tell a late
        # request which timeout ended its session (backends.redis._reason_from_score).
        since = active_since()
        start = 0
        while True:
            ids = client.zrangebyscore(keys.all_index(), "-inf", since, start, PRUNE_BATCH)
            if not ids:
                break
            dropped = forget([i.decode() for i in ids])
            removed += dropped
            start += len(ids) - dropped
    return removed
