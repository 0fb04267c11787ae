"""Reading the index of active sessions: pages, a user's sessions, counts (search.py
searches it).

Writes to the index happen in the session's own scripts (see store/scripts.py); this
module reads it. Every listing is a bounded range over a sorted set plus one HMGET per
listed session, inside one Lua script, so no command is proportional to the number of
sessions, and no listing ever scans the keyspace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from sessionadmin.index.records import (
    SessionRecord,
    active_since,
    run_listing,
    run_listings,
)
from sessionadmin.store import keys
from sessionadmin.store.client import now_ms, on_every_shard, run_scripts


def page(
    *, authenticated_only: bool, offset: int, count: int, anonymous_only: bool = False
) -> list[SessionRecord]:
    """Return ``count`` sessions from ``offset``, most recent activity first: all of them,
    the signed-in ones or the guests (each kind has its own activity set).

    The shards are merged. The page's top score is found first by bisection on counts
    (``_score_at``: O(log N) commands, however deep the page); then each shard gives its
    entries from that score on (ids and scores, one pipelined read), the merge keeps the
    page, and only the page's records are read, one script per shard holding some.
    """
    index = partial(
        keys.indexes, authenticated_only=authenticated_only, anonymous_only=anonymous_only
    )
    since = active_since()
    top, skip = ("+inf", 0) if offset == 0 else _score_at(index, since, offset)
    if top is None:
        return []
    skip = max(skip, 0)
    ranges = on_every_set(
        index, lambda pipe, name: _newest(pipe, name, top, since, skip + count)
    )  # fmt: skip
    return _records(_entries(ranges, since)[skip : skip + count], anonymous_only)


def on_every_set(
    index: Callable[[int], tuple[str, ...]], queue: Callable[[Any, str], object]
) -> list[Any]:
    """``on_every_shard`` for each activity set a listing reads (``keys.indexes``)."""

    def each(pipe: Any, shard: int) -> None:
        for name in index(shard):
            queue(pipe, name)

    return on_every_shard(each)


def _score_at(
    index: Callable[[int], tuple[str, ...]], since: int, offset: int
) -> tuple[float | None, int]:
    """Return (the lowest score S with at most ``offset`` entries above it, how many of
    the entries scored S come before the page), or (None, 0) past the end. Scores are
    whole or half milliseconds, so bisection on half milliseconds ends exactly."""

    def above(half_ms: int) -> int:  # entries scored strictly above
        return sum(
            on_every_set(index, lambda pipe, name: pipe.zcount(name, f"({half_ms / 2}", "+inf"))
        )

    firsts = on_every_set(index, lambda pipe, name: pipe.zrevrange(name, 0, 0, withscores=True))
    tops = [float(found[0][1]) for found in firsts if found]
    low = since * 2 - 1  # above(low) > offset >= above(high), kept so while bisecting
    if not tops or above(low) <= offset:
        return None, 0
    # The count seen at ``high`` is the one used: a write meanwhile moves a session above
    # and would otherwise make the skip negative.
    high, at_high = int(max(tops) * 2) + 1, 0
    while high - low > 1:
        middle = (low + high) // 2
        found = above(middle)
        if found > offset:
            low = middle
        else:
            high, at_high = middle, found
    return high / 2, offset - at_high


def page_after(
    *,
    authenticated_only: bool,
    cursor: tuple[float, str] | None,
    count: int,
    anonymous_only: bool = False,
) -> tuple[list[SessionRecord], tuple[float, str] | None]:
    """Return ``count`` sessions after ``cursor`` (the (score, id) of the last one listed),
    most recent activity first, and the next cursor (None at the end). Each shard reads
    ``count + 1`` entries from the cursor on (and those tied with it), whatever the depth."""
    index = partial(
        keys.indexes, authenticated_only=authenticated_only, anonymous_only=anonymous_only
    )
    since = active_since()
    top, after = ("+inf", None) if cursor is None else (cursor[0], cursor)
    names = [name for shard in keys.shards() for name in index(shard)]
    ties = dict.fromkeys(names, 0)
    if after is not None:  # entries tied with the cursor's score, read past below
        found = on_every_set(index, lambda pipe, name: pipe.zcount(name, after[0], after[0]))
        ties = dict(zip(names, found, strict=True))
    # Inclusive of the cursor's score (entries tied with it are dropped below), and one
    # more than the page: whether a next page exists.
    ranges = on_every_set(
        index, lambda pipe, name: _newest(pipe, name, top, since, count + 1 + ties[name])
    )  # fmt: skip
    entries = _entries(ranges, since)
    if after is not None:
        entries = [e for e in entries if (e[0], e[1]) < after]
    chosen = entries[:count]
    more = len(entries) > count
    records = _records(chosen, anonymous_only)
    return records, ((chosen[-1][0], chosen[-1][1]) if more and chosen else None)


def encode_cursor(position: tuple[float, str] | None) -> str | None:
    """The API's form of a listing position: "<score>~<id>" (None at the end)."""
    return None if position is None else f"{position[0]!r}~{position[1]}"


def decode_cursor(value: str) -> tuple[float, str] | None:
    """The position a cursor names, None for "" (the top); ValueError if it is not one."""
    if not value:
        return None
    score, _, sid = value.partition("~")
    number = float(score)
    if not keys.is_session_id(sid) or number != number or abs(number) == float("inf"):
        raise ValueError(value)
    return number, sid


def _newest(pipe: Any, name: str, top: float | str, since: int, count: int) -> None:
    # ZREVRANGEBYSCORE ... WITHSCORES, its reply left as the protocol gives it: redis-py's
    # own pairing and conversion of every entry of every set cost more than the merge.
    pipe.execute_command("ZREVRANGEBYSCORE", name, top, since, "WITHSCORES", "LIMIT", 0, count)


def _pairs(entries: list) -> Iterator[tuple[Any, Any]]:
    # (member, score) pairs: RESP3 gives them so, RESP2 as one flat list.
    if entries and isinstance(entries[0], list):
        return iter(entries)
    return zip(entries[::2], entries[1::2], strict=True)


def _entries(ranges: list[list], since: int) -> list[tuple[float, str]]:
    # Every shard's live entries, newest first: (score, id), ties by id as Redis orders.
    merged = [
        (float(score), member.decode() if isinstance(member, bytes) else member)
        for entries in ranges
        for member, score in _pairs(entries)
        if float(score) >= since
    ]
    merged.sort(reverse=True)
    return merged


def _records(entries: list[tuple[float, str]], anonymous_only: bool) -> list[SessionRecord]:
    # Only the listed entries' records are read, one GET script per shard holding some. A
    # guest signed in on its own key between the two reads is no longer one to list.
    found = get([sid for _, sid in entries])
    return [r for r in found if r.user_id is None] if anonymous_only else found


def index_size() -> int:
    """Return how many entries the activity index holds (live and ended), all shards."""
    return sum(on_every_set(keys.indexes, lambda pipe, name: pipe.zcard(name)))


USER_SESSIONS_LIMIT = 1000  # a user's sessions listed at most (the per-user limit is lower)


def user_sessions(user_id: str, limit: int = USER_SESSIONS_LIMIT) -> list[SessionRecord]:
    """Return a user's live sessions, most recent activity first (one script, in the
    user's shard)."""
    uk = keys.user_index(user_id)
    return run_listing("USER_PAGE", keys.user_shard(user_id), [uk], [user_id, limit])


def get(ids: list[str]) -> list[SessionRecord]:
    """Return the records of the given ids that are still alive, in the same order."""
    # One GET script per shard holding some, all in one pipeline.
    found = {record.id: record for record in run_listings("GET", keys.by_shard(ids))}
    return [found[sid] for sid in ids if sid in found]


def counts(windows_seconds: tuple[int, ...] = (), *, users: bool = False) -> dict[str, int]:
    """Return live counts: sessions, authenticated sessions, guests, distinct users if
    ``users``, and per activity window, summed over the shards (a user's sessions all sit
    in one shard)."""
    since = active_since()
    now = now_ms()
    bounds = [max(since, now - seconds * 1000) for seconds in windows_seconds]

    def queue(pipe: Any, shard: int) -> None:
        guests, auth = keys.guest_index(shard), keys.auth_index(shard)
        for index, bound in ((guests, since), (auth, since),
                             *((name, b) for b in bounds for name in (guests, auth))):  # fmt: skip
            pipe.zcount(index, bound, "+inf")

    replies = on_every_shard(queue)
    width = 2 + 2 * len(bounds)
    totals = [sum(replies[i::width]) for i in range(width)]
    windows = [totals[i] + totals[i + 1] for i in range(2, width, 2)]
    result = {"active": totals[0] + totals[1], "authenticated": totals[1], "anonymous": totals[0]}
    if users:
        result["users"] = _users(since)
    result.update({f"last_{s}s": n for s, n in zip(windows_seconds, windows, strict=True)})
    return result


def _users(since: int) -> int:
    # The users index is in 256 buckets a shard (keys.users_bucket): four scripts a shard
    # count them, in one round trip on one server.
    span = keys.USER_BUCKETS_A_CALL
    calls = [
        ("USER_COUNT", keys.shard_keys(shard), [keys.prefix(shard), since, lo, lo + span - 1])
        for shard in keys.shards()
        for lo in range(0, keys.USER_BUCKETS, span)
    ]
    return sum(run_scripts(calls))
