"""Bounded search over the activity index: a needle in IP or agent, a user's sessions,
the guests or one kind, most recent first, in short script calls.

Each call examines at most SEARCH_BATCH entries of one shard, and stops sooner once it
has run SEARCH_CALL_US µs (a slow or busy host makes shorter calls, not longer ones); a
search examines at most SEARCH_MAX entries in all. However many sessions there are, Redis
is never blocked for long, and a search that stops at its bound says so
(``SearchResult.complete``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sessionadmin.index.records import SessionRecord, active_since, record_from_row
from sessionadmin.store import keys
from sessionadmin.store.client import now_ms, run_script

SEARCH_BATCH = 25  # entries one script call examines: about 0.2 ms of Redis time
SEARCH_MAX = 25_000  # entries one search examines at most, shared out over the shards
SEARCH_CALL_US = 500  # Redis time one call may take before it stops, checked every 4 entries


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
    of ``kind`` ("browser", "token"; "" any), most recent activity first.

    Each shard's activity index is scanned newest first in batches of SEARCH_BATCH, each
    a single short script, up to its share of SEARCH_MAX entries: Redis is never blocked
    for long, and the search covers about the newest SEARCH_MAX sessions overall.
    """
    since = active_since()
    # Guests alone, signed-in sessions alone (tokens are), or both: the user ids widen the
    # match (a user's sessions, beside the IP and agent matches), they filter nothing.
    names = "guests,auth"
    if anonymous_only or authenticated_only or kind == "token":
        names = "guests" if anonymous_only else "auth"
    uids = "," + ",".join(user_ids) + "," if user_ids else ""
    filters = [needle.lower(), uids, "1" if anonymous_only else "0",
               {"browser": "b", "token": "t"}.get(kind, "")]  # fmt: skip
    rows: list[list] = []
    complete = True
    for shard in keys.shards():
        shard_rows, finished = _search_shard(shard, names, since, filters)
        rows.extend(shard_rows)
        complete = complete and finished
    rows.sort(key=lambda row: int(row[3]), reverse=True)  # last activity
    now = now_ms()
    found = [record_from_row(row, now) for row in rows[offset : offset + count]]
    return SearchResult(found, len(rows), complete)


def _search_shard(shard: int, names: str, since: int, filters: list) -> tuple[list[list], bool]:
    # One shard's matching rows, and whether its live entries were all examined. Its sets
    # ("guests,auth") are walked as one index, newest first; the script keeps the offsets.
    budget = keys.per_shard(SEARCH_MAX)
    rows: list[list] = []
    examined = 0
    offsets = ",".join("0" for _ in names.split(","))
    while examined < budget:
        batch = min(SEARCH_BATCH, budget - examined)
        scanned, offsets, found = _call(shard, names, since, offsets, batch, filters)
        rows.extend(found)
        examined += scanned
        if not offsets:  # the end of the shard's live entries
            return rows, True
    return rows, False


def anonymous_ids(batch: int | None = None) -> Iterator[tuple[list[str], int]]:
    """Yield (ids of guest sessions, entries examined) batch by batch, over the whole index.

    For commands, not requests: it walks every guest entry of every shard, in short
    script calls (of SEARCH_BATCH entries unless told, each within SEARCH_CALL_US).
    """
    batch = batch or SEARCH_BATCH
    since = active_since()
    for shard in keys.shards():
        offset = b"0"
        while True:
            filters = ["", "", "1", ""]  # guests alone, any agent and kind
            scanned, offset, found = _call(shard, "guests", since, offset, batch, filters)
            yield [row[0].decode() for row in found], scanned
            if not offset:
                break


def _call(
    shard: int, names: str, since: int, offsets: str | bytes, batch: int, filters: list
) -> tuple[int, bytes, list[list]]:
    # One SEARCH call (search.lua): (entries examined, offsets to go on from, b"" at the
    # shard's end; the matching rows).
    args = [keys.prefix(shard), names, since, offsets, batch, *filters, SEARCH_CALL_US]
    reply = run_script("SEARCH", keys.shard_keys(shard), args)
    return int(reply[0]), reply[1], reply[2:]
