"""Reading the index of active sessions: pages, a user's sessions, search, counts.

Writes to the index happen in the session's own scripts (see store/scripts.py); this
module reads it. Every listing is a bounded range over a sorted set plus one HMGET per
listed session, inside one Lua script, so no command is proportional to the number of
sessions, and no listing ever scans the keyspace.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sessionadmin.index.records import (
    SessionRecord,
    active_since,
    record_from_row,
    run_listing,
)
from sessionadmin.store import keys
from sessionadmin.store.client import now_ms, redis_client, redis_errors, run_script


def page(*, authenticated_only: bool, offset: int, count: int) -> list[SessionRecord]:
    """Return ``count`` sessions from ``offset``, most recent activity first."""
    name = "auth" if authenticated_only else "all"
    return run_listing("PAGE", [name, active_since(), offset, count])


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
    kind: str = "",
    offset: int = 0,
    count: int = 50,
) -> SearchResult:
    """Return sessions matching ``needle`` (in IP or user agent) or one of ``user_ids``,
    of ``kind`` ("browser", "token"; "" any).

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
             "1" if anonymous_only else "0", {"browser": "b", "token": "t"}.get(kind, "")],
        )  # fmt: skip
        scanned, rows = int(reply[0]), reply[1:]
        for row in rows:
            if offset <= matches < offset + count:
                found.append(record_from_row(row, now))
            matches += 1
        examined += scanned
        if scanned < SEARCH_BATCH:
            return SearchResult(found, matches, complete=True)
    return SearchResult(found, matches, complete=False)


def anonymous_ids(batch: int = SEARCH_BATCH) -> Iterator[tuple[list[str], int]]:
    """Yield (ids of guest sessions, entries examined) batch by batch, over the whole index.

    For commands, not requests: it walks every entry, in short script calls.
    """
    since, offset = active_since(), 0
    while True:
        reply = run_script(
            "SEARCH", [], [keys.prefix(), "all", since, offset, batch, "", "", "1", ""]
        )
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
    return run_listing("USER_PAGE", [user_id, limit])


def get(ids: list[str]) -> list[SessionRecord]:
    """Return the records of the given ids that are still alive, in the same order."""
    return run_listing("GET", ids) if ids else []


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
