"""What a session's one read finds beside the session itself, for the request's views.

- Its item counts (``sessionadmin.items``): a cart page reads no more.
- On request, its user's own sessions (``lists_own_sessions`` views): a "your sessions"
  page reads no more either.

Both are what the store held when the request began, as any value of the session is; an
item changed by this request replaces its namespace here (items.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import methodcaller

from sessionadmin.index.records import SessionRecord, record_from_row
from sessionadmin.store import keys
from sessionadmin.store.client import now_ms


@dataclass
class Preloaded:
    sid: str  # the session id they were read with: a new key (login) reads anew
    fields: dict[bytes, bytes] = field(default_factory=dict)  # the hash, as the read found it
    user_id: str = ""
    own_sessions: list[SessionRecord] | None = None  # None: not read (or since revoked)

    def items(self, namespace: str) -> dict[str, int]:
        """The item counts of ``namespace`` (fields "i:<namespace>:<item>", items.lua)."""
        return items_of(self.fields, namespace)

    def replace_items(self, namespace: str, items: dict[str, int]) -> None:
        prefix = f"i:{namespace}:".encode()
        for gone in _item_fields(self.fields, prefix):
            del self.fields[gone]
        self.fields.update({prefix + item.encode(): b"%d" % n for item, n in items.items()})

    def list_own(self, rows: list) -> None:
        """Keep the user's own sessions LOAD listed; they are listed only in the user's
        own shard, where a signed-in session always is."""
        if self.user_id and keys.id_shard(self.sid) == keys.user_shard(self.user_id):
            now = now_ms()
            self.own_sessions = [record_from_row(row, now) for row in rows]


def items_of(fields: dict[bytes, bytes], namespace: str) -> dict[str, int]:
    """The item counts of ``namespace`` among a session hash's fields (items.lua)."""
    prefix = f"i:{namespace}:".encode()
    size = len(prefix)
    return {k[size:].decode(): int(fields[k]) for k in _item_fields(fields, prefix)}


def _item_fields(fields: dict[bytes, bytes], prefix: bytes) -> list[bytes]:
    # Filtered in C (methodcaller): most of a session's hash is not items.
    return list(filter(methodcaller("startswith", prefix), fields))


def of(session: object) -> Preloaded | None:
    """What the request's LOAD read beside ``session``, while it still has that key."""
    found = getattr(session, "preloaded", None)
    if found is None or not session.session_key or found.sid != session.session_id:
        return None
    return found
