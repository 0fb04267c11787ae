"""One active session as the index lists it, built from a listing script's row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sessionadmin.conf import get_settings
from sessionadmin.store import keys
from sessionadmin.store.client import now_ms, run_reads, run_script


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
    kind: str = "browser"  # or "token"
    name: str = ""  # a token's label
    flags: str = ""  # hijack flags: "n" its network changed, "a" its agent (flag.lua)

    @property
    def suspicious(self) -> list[str]:
        """What changed mid-session, as the API names it: "network", "agent"."""
        return suspicious_changes(self.flags)


def suspicious_changes(flags: str) -> list[str]:
    """Return the changes a session's hijack flags stand for ("network", "agent")."""
    return [name for code, name in (("n", "network"), ("a", "agent")) if code in flags]


def at(ms: int) -> datetime:
    """Return a stored time (ms since the epoch) as an aware datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def record_from_row(row: list, now: int) -> SessionRecord:
    """Return the record of a row shaped as records.lua returns it."""
    sid, uid, created, activity, login, requests, ip, ua, pttl, kind, name, flags = row
    activity_ms = int(activity)
    return SessionRecord(
        id=sid.decode(),
        user_id=uid.decode() or None,
        ip=ip.decode(),
        user_agent=ua.decode(errors="replace"),
        created_at=at(int(created or activity_ms)),
        last_activity=at(activity_ms),
        login_at=at(int(login)) if login else None,
        expires_at=at(now + max(int(pttl), 0)),
        requests=int(requests),
        kind="token" if kind == b"t" else "browser",
        name=name.decode(errors="replace"),
        flags=flags.decode(),
    )


def active_since() -> int:
    """Return the lowest activity score (ms) a live session can have now."""
    return now_ms() - get_settings().idle_timeout * 1000


def run_listing(name: str, shard: int, script_keys: list[str], args: list) -> list[SessionRecord]:
    """Run a listing script (USER_PAGE, GET) in one shard and return its records."""
    now = now_ms()
    rows = run_script(name, [*script_keys, *keys.shard_keys(shard)], [keys.prefix(shard), *args])
    return [record_from_row(row, now) for row in rows]


def run_listings(name: str, calls: dict[int, list]) -> list[SessionRecord]:
    """Run a listing script (GET) in several shards at once, ``calls`` the arguments for
    each, in one pipeline (client.run_reads); return all their records."""
    now = now_ms()
    each = [(keys.shard_keys(shard), [keys.prefix(shard), *args]) for shard, args in calls.items()]
    replies = run_reads(name, each)
    return [record_from_row(row, now) for rows in replies for row in rows]
