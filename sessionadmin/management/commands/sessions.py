"""``manage.py sessions list|show|revoke|stats|prune|events``: sessions from the shell.

Human-readable tables by default, ``--json`` for scripts; a bad argument or an unknown id
exits non-zero with a clear message. Every revocation is logged, with its public ids or
its user, to the "sessionadmin.audit" logger at WARNING, so that a production logger that
drops INFO keeps it (a command has no signed-in actor for the admin's LogEntry).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from sessionadmin import events, services
from sessionadmin.exceptions import SessionStoreUnavailable
from sessionadmin.index import queries, upkeep
from sessionadmin.index.search import anonymous_ids
from sessionadmin.store import keys

audit = logging.getLogger("sessionadmin.audit")
COLUMNS = [("id", 24), ("kind", 7), ("user", 16), ("device", 24), ("ip", 15),
           ("last_activity", 25), ("requests", 8)]  # fmt: skip
EVENT_COLUMNS = [("at", 32), ("event", 12), ("reason", 16), ("user", 16), ("session_id", 24),
                 ("ip", 15), ("device", 24)]  # fmt: skip


class Command(BaseCommand):
    help = "List, inspect, revoke and count active sessions; prune the index."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="list sessions, most recent activity first")
        listing.add_argument("--user", help="user id or username")
        kind = listing.add_mutually_exclusive_group()
        kind.add_argument("--anonymous", action="store_true")
        kind.add_argument("--authenticated", action="store_true")
        listing.add_argument("--search", default="", help="match IP, user agent or username")
        listing.add_argument("--kind", choices=["browser", "token"], default="")
        listing.add_argument("--limit", type=int, default=50)
        listing.add_argument("--json", action="store_true", dest="as_json")
        show = sub.add_parser("show", help="show one session by id")
        show.add_argument("id")
        show.add_argument("--json", action="store_true", dest="as_json")
        revoke = sub.add_parser("revoke", help="end sessions now")
        revoke.add_argument("ids", nargs="*")
        revoke.add_argument("--user", help="every session of this user (id or username)")
        revoke.add_argument("--all-anonymous", action="store_true")
        revoke.add_argument("--json", action="store_true", dest="as_json")
        stats = sub.add_parser("stats", help="counts of active sessions")
        stats.add_argument("--json", action="store_true", dest="as_json")
        sub.add_parser("prune", help="drop index entries of ended sessions")
        log = sub.add_parser("events", help="recent session events, newest first")
        log.add_argument("--user", help="user id or username")
        log.add_argument("--kind", choices=events.KINDS, default="", help="event or reason")
        log.add_argument("--since", default="", help="only this far back: 10m, 2h, 1d")
        log.add_argument("--limit", type=int, default=50)
        log.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            getattr(self, f"do_{action}")(**options)
        except SessionStoreUnavailable as exc:
            raise CommandError(f"the session store (Redis) is unavailable: {exc}") from exc

    # --- actions ------------------------------------------------------------------------
    def do_list(self, *, user, anonymous, authenticated, search, kind, limit, as_json, **_):
        if not 1 <= limit <= 10_000:
            raise CommandError("--limit must be from 1 to 10000")
        user_id = self._user(user) if user else None
        authenticated_filter = True if authenticated else (False if anonymous else None)
        rows: list[dict] = []
        page = 1
        while len(rows) < limit:
            result = services.list_sessions(
                page=page, page_size=min(limit, services.MAX_PAGE_SIZE), user_id=user_id,
                authenticated=authenticated_filter, query=search, kind=kind,
            )  # fmt: skip
            rows += services.serialize_sessions(result.results)
            if len(result.results) < result.page_size or page * result.page_size >= result.count:
                break
            page += 1
        rows = rows[:limit]
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
        else:
            self._table(rows)

    def do_show(self, *, id, as_json, **_) -> None:
        record = services.get_session(id)
        if record is None:
            raise CommandError(f"no active session with id {id!r}")
        row = services.serialize_sessions([record])[0]
        if as_json:
            self.stdout.write(json.dumps(row, indent=2))
            return
        for name, value in row.items():
            shown = value["username"] or value["id"] if name == "user" and value else value
            self.stdout.write(f"{name:>14}: {shown if shown is not None else '-'}")

    def do_revoke(self, *, ids, user, all_anonymous, as_json, **_) -> None:
        if sum(bool(x) for x in (ids, user, all_anonymous)) != 1:
            raise CommandError("give session ids, or --user U, or --all-anonymous (one of them)")
        if ids:
            bad = [i for i in ids if not keys.is_session_id(i)]
            if bad:
                raise CommandError(f"not a session id: {', '.join(bad)}")
            ended = [i for i in ids if services.revoke_session(i, by="command")]
            for session_id in ended:
                audit.warning("manage.py sessions revoke: session %s ended", session_id)
            revoked, missing = len(ended), len(ids) - len(ended)
        elif user:
            user_id = self._user(user)
            revoked, missing = services.revoke_user_sessions(user_id, by="command"), 0
            audit.warning(
                "manage.py sessions revoke: %d session(s) of user %s ended", revoked, user_id
            )
        else:
            revoked, missing = self._revoke_anonymous(), 0
        if as_json:
            self.stdout.write(json.dumps({"revoked": revoked, "not_found": missing}))
        else:
            self.stdout.write(f"revoked {revoked} session(s)")
        if ids and missing:
            raise CommandError(f"{missing} of the given ids were not active sessions")

    def do_stats(self, *, as_json, **_) -> None:
        stats = services.session_stats()
        if as_json:
            self.stdout.write(json.dumps(stats))
            return
        for name in ("active", "authenticated", "anonymous", "users"):
            self.stdout.write(f"{name:>14}: {stats[name]}")
        for seconds, count in stats["activity"].items():
            self.stdout.write(f"{'last ' + _span(int(seconds)):>14}: {count}")

    def do_prune(self, **_) -> None:
        removed = upkeep.prune()
        self.stdout.write(f"pruned {removed} index entr{'y' if removed == 1 else 'ies'}")

    def do_events(self, *, user, kind, since, limit, as_json, **_) -> None:
        if not 1 <= limit <= 10_000:
            raise CommandError("--limit must be from 1 to 10000")
        user_id = events.event_user_id(user) if user else None
        if user and user_id is None:
            raise CommandError(f"no such user: {user!r}")
        try:
            since_ms = events.parse_since(since) if since else 0
        except ValueError as exc:
            raise CommandError(f"--since: {exc}") from exc
        found: list[events.Event] = []
        cursor: str | None = ""
        while cursor is not None and len(found) < limit:
            page, cursor = events.recent(user_id=user_id, kind=kind, cursor=cursor,
                                         since_ms=since_ms, limit=limit - len(found))  # fmt: skip
            found += page
        rows = events.serialize(found)
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        self.stdout.write("  ".join(n.upper().ljust(w) for n, w in EVENT_COLUMNS))
        for row in rows:
            user = row["user"] or {}
            values = {**row, "user": user.get("username") or user.get("id")}
            self.stdout.write(
                "  ".join(str(values[n] or "-")[:w].ljust(w) for n, w in EVENT_COLUMNS)
            )
        self.stdout.write(f"{len(rows)} event(s)")

    # --- helpers ------------------------------------------------------------------------
    def _user(self, value: str) -> str:
        user_id = services.resolve_user_id(value)
        if user_id is None:
            raise CommandError(f"no such user: {value!r}")
        return user_id

    def _revoke_anonymous(self) -> int:
        total = queries.index_size()
        ids: list[str] = []
        with tqdm(total=total, desc="scanning", unit="session", disable=total < 5000,
                  file=self.stderr) as bar:  # fmt: skip
            for found, scanned in anonymous_ids():
                ids += found
                bar.update(scanned)
        ended: list[str] = []
        for session_id in tqdm(ids, desc="revoking", disable=len(ids) < 5000, file=self.stderr):
            if services.revoke_session(session_id, by="command"):
                ended.append(session_id)
        for start in range(0, len(ended), 100):  # every id, a hundred a line
            batch = ended[start : start + 100]
            audit.warning("manage.py sessions revoke: guest sessions ended: %s", " ".join(batch))
        audit.warning("manage.py sessions revoke: %d guest session(s) ended", len(ended))
        return len(ended)

    def _table(self, rows: list[dict]) -> None:
        header = "  ".join(name.upper().ljust(width) for name, width in COLUMNS)
        self.stdout.write(header)
        for row in rows:
            values = {**row, "user": (row["user"] or {}).get("username") or "anonymous"}
            self.stdout.write(
                "  ".join(str(values[name])[:width].ljust(width) for name, width in COLUMNS)
            )
        self.stdout.write(f"{len(rows)} session(s)")


def _span(seconds: int) -> str:
    return f"{seconds // 3600} h" if seconds >= 3600 else f"{seconds // 60} min"
