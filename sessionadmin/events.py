"""Session events: what the scripts report, what the app records, and the log's reading.

The log is a capped Redis stream per shard (``keys.events_log(shard)``, ``XADD MAXLEN ~``
its share of SESSIONADMIN_EVENTS_MAX). Sign-ins and endings are added by the very script
that signs in or ends the session (store/lua/events.lua), so each is logged exactly once,
atomically with the change; failed and rate-limited sign-ins and hijack flags are added
here. Reading merges the shards newest first; an entry's id is its stream id (its time in
ms) and its shard, "<ms>-<seq>-<shard>", also the cursor of the log's pages. Entries name
sessions by public id only: never a key, a password or a token.
"""

from __future__ import annotations

import heapq
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sessionadmin import metrics, signals
from sessionadmin.auth.users import (
    json_user_id,
    pk_from_key,
    resolve_user,
    user_key,
    usernames,
)
from sessionadmin.conf import get_settings
from sessionadmin.errors import ValidationFailed
from sessionadmin.index.records import at
from sessionadmin.signals import ENDED_REASONS
from sessionadmin.store import keys
from sessionadmin.store.client import now_ms, on_every_shard, redis_client, redis_errors

logger = logging.getLogger("sessionadmin")

EVENT_KINDS = ("login", "logout", "ended", "login_failed", "rate_limited", "suspicious")
# A filter's kind: an event, or the reason of an ending (every "idle" expiry, say).
KINDS = EVENT_KINDS + tuple(r for r in ENDED_REASONS if r not in EVENT_KINDS)
CURSOR = re.compile(r"^([0-9]{1,15})-([0-9]{1,12})(?:-([0-9]{1,3}))?$")
_BATCH = 500


@dataclass(frozen=True)
class Event:
    id: str  # the stream id and shard: "<ms>-<seq>-<shard>", also the cursor
    at: datetime
    event: str
    reason: str
    session_id: str
    user_id: str  # the stored user id ("" none)
    ip: str
    device: str
    by: str  # who revoked a session: staff, user, command, suspicious ("" otherwise)


def report_ended(triples: list[Any]) -> None:
    """Send ``session_ended`` and count each (sid, uid, why) a script reported ended."""
    for i in range(0, len(triples) - 2, 3):
        sid, uid, why = (_text(v) for v in triples[i : i + 3])
        reason, _, by = why.partition(":")
        metrics.session_ended(reason, by)
        _send(
            signals.session_ended,
            session_id=sid,
            user=pk_from_key(uid),
            reason=reason,
            by=by,
        )


def script_status(reply: list[Any]) -> int:
    """Return the status of a script that may end sessions ({status, ENDED, ...}),
    reporting those it ended."""
    if len(reply) > 1 and reply[1]:  # early returns carry the status alone
        report_ended(reply[1])
    return int(reply[0])


def signed_in(
    request: Any, session_id: str, user_pk: Any, *, new: bool = True, count: bool = True
) -> None:
    """A user signed in (the script of the write logged it): count it (unless ``count`` is
    false: counted elsewhere); send ``session_started`` if that began a signed-in session
    (``new``), not for a user signing in again on the session they are signed in with."""
    if count:
        metrics.LOGINS.inc()
    if new:
        _send(signals.session_started, request=request, session_id=session_id, user=user_pk)


def _send(signal: Any, **kwargs: Any) -> None:
    # A receiver's failure must not fail the request that happened to find the event.
    for receiver, result in signal.send_robust(sender=None, **kwargs):
        if isinstance(result, Exception):
            logger.error("session signal receiver %r failed", receiver, exc_info=result)


def record(
    event: str, *, reason: str = "", session_id: str = "", user_id: str = "", ip: str = "",
    device: str = "",
) -> None:  # fmt: skip
    """Add one event to the log (raises SessionStoreUnavailable)."""
    cap = get_settings().events_max
    if cap <= 0:
        return
    fields = {"e": event, "r": reason, "s": session_id, "u": user_id, "ip": ip, "d": device}
    if user_id:
        shard = keys.user_shard(user_id)
    else:
        shard = keys.id_shard(session_id) if session_id else keys.user_shard("ip:" + ip)
    with redis_errors():
        redis_client().xadd(
            keys.events_log(shard), fields, maxlen=keys.per_shard(cap), approximate=True
        )


def matches(entry: Event, user_id: str | None, kind: str) -> bool:
    """Whether an event passes the filters: its user, and its kind or ending reason."""
    if user_id is not None and entry.user_id != user_id:
        return False
    return not kind or kind in (entry.event, entry.reason)


def recent(
    *, user_id: str | None = None, kind: str = "", cursor: str = "", since_ms: int = 0,
    limit: int = 50, budget: int = 5000,
) -> tuple[list[Event], str | None]:  # fmt: skip
    """Return events newest first, after ``cursor``, and the cursor of the next page.

    Filters are applied while reading at most ``budget`` entries, so no call walks the
    whole log: a page may hold fewer than ``limit`` events and still have a next cursor.
    """
    client = redis_client()
    position = _position(cursor)
    lower = str(since_ms) if since_ms else "-"
    first = min(_BATCH, limit + 1, budget)
    streams = [_newest_first(client, shard, position, lower, first) for shard in keys.shards()]
    found: list[Event] = []
    for examined, (_, entry) in enumerate(heapq.merge(*streams, reverse=True), start=1):
        if matches(entry, user_id, kind):
            found.append(entry)
            if len(found) >= limit:
                return found, entry.id
        if examined >= budget:
            return found, entry.id
    return found, None  # the start of the log (or of ``since``)


def _position(cursor: str) -> tuple[int, int, int] | None:
    # (ms, seq, shard) of a cursor; an id without a shard (an older page's) sorts as
    # shard 0, which every shard reads past.
    match = CURSOR.match(cursor) if cursor else None
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def _newest_first(
    client: Any, shard: int, position: tuple[int, int, int] | None, lower: str, first: int
) -> Iterator[tuple[tuple[int, int, int], Event]]:
    """Yield one shard's entries after ``position``, newest first, keyed for the merge."""
    if position is None:
        upper = "+"
    else:
        ms, seq, at_shard = position
        # Entries order by (ms, seq, shard): a lower shard still lists the cursor's id.
        upper = f"{ms}-{seq}" if shard < at_shard else f"({ms}-{seq}"
    count = first
    while True:
        # parse_filters refused the one cursor Redis cannot start from ("0-0"): any
        # other refusal is the store's (a cluster failing over), answered as such.
        with redis_errors():
            batch = client.xrevrange(keys.events_log(shard), max=upper, min=lower, count=count)
        for raw_id, fields in batch:
            entry = _event(raw_id, fields, shard)
            ms, seq = entry.id.split("-")[:2]
            upper = f"({ms}-{seq}"
            yield (int(ms), int(seq), shard), entry
        if len(batch) < count:
            return
        count = _BATCH


def log_length() -> int:
    """Return how many events the log holds now, all shards."""
    return sum(on_every_shard(lambda pipe, shard: pipe.xlen(keys.events_log(shard))))


def _event(raw_id: bytes | str, fields: dict, shard: int) -> Event:
    entry_id = _text(raw_id)
    values = {_text(k): _text(v) for k, v in fields.items()}
    return Event(
        id=f"{entry_id}-{shard}",
        at=at(int(entry_id.split("-", 1)[0])),
        event=values.get("e", ""),
        reason=values.get("r", ""),
        session_id=values.get("s", ""),
        user_id=values.get("u", ""),
        ip=values.get("ip", ""),
        device=values.get("d", ""),
        by=values.get("b", ""),
    )


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


SINCE = re.compile(r"^(\d{1,9})([smhd])$")
MAX_PAGE = 200


def parse_since(value: str) -> int:
    """Return the start (ms) of a span back from now ("10m", "2h", "1d"); ValueError."""
    match = SINCE.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a span like 10m, 2h or 1d")
    seconds = int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return max(now_ms() - seconds * 1000, 1)


def parse_filters(params: Mapping[str, str]) -> dict[str, Any]:
    """Return recent() arguments from query parameters; raise ValidationFailed."""
    fields: dict[str, list[str]] = {}
    user_id = None
    user = params.get("user", "").strip()
    if user:
        user_id = event_user_id(user)
        if user_id is None:
            fields["user"] = ["No such user."]
    kind = params.get("kind", "").strip()
    if kind and kind not in KINDS:
        fields["kind"] = [f"Must be one of: {', '.join(KINDS)}."]
    cursor = params.get("cursor", "").strip()
    position = _position(cursor)
    if cursor and (position is None or position[:2] == (0, 0)):
        fields["cursor"] = ["Not a cursor from a previous page."]
    since_ms = 0
    if params.get("since"):
        try:
            since_ms = parse_since(params["since"])
        except ValueError:
            fields["since"] = ["Must be a span like 10m, 2h or 1d."]
    size = params.get("page_size", "50")
    if not (size.isascii() and size.isdigit() and len(size) <= 4 and 1 <= int(size) <= MAX_PAGE):
        fields["page_size"] = [f"Must be a whole number from 1 to {MAX_PAGE}."]
    if fields:
        raise ValidationFailed(fields=fields)
    return {"user_id": user_id, "kind": kind, "cursor": cursor, "since_ms": since_ms,
            "limit": int(size)}  # fmt: skip


def event_user_id(value: str) -> str | None:
    """Return the stored id of a user named by id or username, also of a deleted user
    (whose events stay in the log) when ``value`` is an id; None if it names nobody."""
    found = resolve_user(value)
    if found is not None:
        return found
    pk = pk_from_key(value)
    return user_key(pk) if pk is not None else None


def serialize(found: list[Event]) -> list[dict[str, Any]]:
    """Return API.md's event objects; usernames are read in one query."""
    names = usernames({e.user_id for e in found if e.user_id})
    return [
        {
            "at": e.at.isoformat(),
            "event": e.event,
            "reason": e.reason or None,
            "session_id": e.session_id or None,
            "user": {"id": json_user_id(e.user_id), "username": names.get(e.user_id)}
            if e.user_id
            else None,
            "ip": e.ip or None,
            "device": e.device or None,
            "by": e.by or None,
            "cursor": e.id,
        }
        for e in found
    ]
