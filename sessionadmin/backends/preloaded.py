"""What a session's one LOAD reads beside the session itself, for the request's views.

- Its item counts (``sessionadmin.items``): a cart page reads no more.
- On request, its user's own sessions (``lists_own_sessions`` views): a "your sessions"
  page reads no more either.

Both are what the store held when the request began, as any value of the session is; an
item changed by this request replaces its namespace here (items.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sessionadmin.index.records import SessionRecord, record_from_row
from sessionadmin.store import keys
from sessionadmin.store.client import now_ms


@dataclass
class Preloaded:
    sid: str  # the session id they were read with: a new key (login) reads anew
    fields: dict[str, int] = field(default_factory=dict)  # "i:<namespace>:<item>" -> count
    user_id: str = ""
    own_sessions: list[SessionRecord] | None = None  # None: not read (or since revoked)

    def items(self, namespace: str) -> dict[str, int]:
        prefix = f"i:{namespace}:"  # as items.lua matches them
        return {k[len(prefix) :]: v for k, v in self.fields.items() if k.startswith(prefix)}

    def replace_items(self, namespace: str, items: dict[str, int]) -> None:
        prefix = f"i:{namespace}:"
        self.fields = {k: v for k, v in self.fields.items() if not k.startswith(prefix)}
        self.fields.update({prefix + item: count for item, count in items.items()})


def of(session: object) -> Preloaded | None:
    """What the request's LOAD read beside ``session``, while it still has that key."""
    found = getattr(session, "preloaded", None)
    if found is None or not session.session_key or found.sid != session.session_id:
        return None
    return found


def parse(sid: str, user_id: str, items: list[bytes], own: list, listed: bool) -> Preloaded:
    """Build what LOAD returned after the session's fields."""
    found = Preloaded(sid, user_id=user_id)
    found.fields = {items[i].decode(): int(items[i + 1]) for i in range(0, len(items), 2)}
    # Listed only in the user's own shard, where a signed-in session always is.
    if listed and user_id and keys.id_shard(sid) == keys.user_shard(user_id):
        now = now_ms()
        found.own_sessions = [record_from_row(row, now) for row in own]
    return found
