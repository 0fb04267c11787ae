"""Item counts kept with a session (a cart is one), changed atomically in Redis.

Each namespace is a map of item -> positive whole quantity stored in the session's own
Redis hash, beside its payload. Changes are single Lua scripts, so concurrent requests of
one session never lose each other's updates and no lock is needed; the session's generic
save never overwrites them (nor they it). They follow the session: ``cycle_key()`` (login)
moves them to the new key, and deleting the session (logout, revocation, timeout) deletes
them. See ``store/lua/items.lua``.

With another session engine (Django's own, in a project that keeps it) the items live in
the session's data instead, under the same rules but without the atomicity: concurrent
requests may then lose each other's changes, as they may any value of such a session.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.base import SessionBase

from sessionadmin.backends import preloaded
from sessionadmin.backends.redis import SessionStore
from sessionadmin.new_sessions import allow_new_session
from sessionadmin.store import keys
from sessionadmin.store.client import run_script


class SessionGone(Exception):
    """The session was deleted (revoked, signed out) while the request ran."""


class OverCap(Exception):
    """More than the item's cap (for a cart, the stock); ``current`` is what it holds."""

    def __init__(self, current: int) -> None:
        super().__init__(current)
        self.current = current


class OverItemLimit(OverCap):
    """More than the maximum quantity of one item."""


class TooManyItems(Exception):
    """More distinct items than allowed."""


class TooManyNewSessions(Exception):
    """This client created its budget of new sessions this minute: none is stored."""


def _ensure_saved(session: SessionBase) -> str:
    # A first visit has no stored session yet: create it, so the items have a home (within
    # the client's budget of new sessions, as for any guest session: new_sessions.py).
    if session.session_key is None:
        ip = getattr(getattr(session, "client", None), "ip", "")
        if not allow_new_session(ip):
            raise TooManyNewSessions()
    if session.session_key is None or session.is_empty():
        session.save()
    return keys.session_key_name(session.session_id)  # hashed once per request


def _call(session: SessionBase, *args: Any, create: bool = False) -> tuple[int, int, dict]:
    if not isinstance(session, SessionStore):
        return _in_payload(session, *args)
    if create:
        key = _ensure_saved(session)
    elif session.session_key is None:
        return 1, 0, {}
    else:
        key = keys.session_key_name(session.session_id)  # hashed once per request
    reply = run_script("ITEMS", [key], list(args))
    status, current = int(reply[0]), int(reply[1])
    pairs = reply[2] if len(reply) > 2 else []
    items = preloaded.items_of(dict(zip(pairs[::2], pairs[1::2], strict=True)), args[1])
    if status == 1:  # the hash as read before the change (items.lua): apply it
        if args[0] in ("add", "set"):
            items[args[2]] = current
        elif args[0] == "remove":
            items.pop(args[2], None)
    loaded = preloaded.of(session)
    if loaded is not None and status != -1:  # what this request reads next
        loaded.replace_items(args[1], {} if args[0] in ("clear", "take") else items)
    return status, current, items


def _in_payload(
    session: SessionBase,
    op: str,
    namespace: str,
    item: str = "",
    quantity: int = 0,
    cap: int = 0,
    max_per_item: int = 0,
    max_items: int = 0,
    *flat: Any,
) -> tuple[int, int, dict]:
    """items.lua's operations on a map kept in the session's data (another engine)."""
    name = f"_items:{namespace}"
    items: dict[str, int] = dict(session.get(name) or {})
    status, current = 1, items.get(item, 0)
    if op in ("clear", "take"):
        session.pop(name, None)
        return 1, 0, items if op == "take" else {}
    if op == "restore":
        for i in range(0, len(flat), 2):
            items[flat[i]] = items.get(flat[i], 0) + int(flat[i + 1])
    elif op == "remove":
        items.pop(item, None)
    elif op in ("add", "set"):
        wanted = current + quantity if op == "add" else quantity
        if wanted > cap:
            return -2, current, items
        if wanted > max_per_item:
            return -3, current, items
        if current == 0 and len(items) >= max_items:
            return -4, current, items
        items[item], current = wanted, wanted
    if op != "get":
        session[name] = items
    return status, current if op in ("add", "set") else 0, items


def _check(status: int, current: int) -> None:
    if status == -1:
        raise SessionGone()
    if status == -2:
        raise OverCap(current)
    if status == -3:
        raise OverItemLimit(current)
    if status == -4:
        raise TooManyItems()


def get_items(session: SessionBase, namespace: str) -> dict[str, int]:
    """Return the session's items of ``namespace`` ({} if it has none or no session)."""
    loaded = preloaded.of(session)
    if loaded is not None:  # read by the request's one LOAD (backends/preloaded.py)
        return loaded.items(namespace)
    status, _, items = _call(session, "get", namespace)
    return items if status == 1 else {}


def change_item(
    session: SessionBase,
    namespace: str,
    item: str,
    quantity: int,
    *,
    add: bool,
    cap: int,
    max_per_item: int,
    max_items: int,
) -> dict[str, int]:
    """Add to (``add``) or set an item's quantity, atomically; return all the items.

    Raise OverCap (more than ``cap``), OverItemLimit, TooManyItems or SessionGone; the
    item then keeps what it had.
    """
    op = "add" if add else "set"
    status, current, items = _call(
        session, op, namespace, item, quantity, cap, max_per_item, max_items, create=True
    )
    _check(status, current)
    return items


def remove_item(session: SessionBase, namespace: str, item: str) -> dict[str, int]:
    """Remove an item; return the remaining items."""
    status, current, items = _call(session, "remove", namespace, item)
    _check(status, current)
    return items


def clear_items(session: SessionBase, namespace: str) -> None:
    """Remove every item of ``namespace``."""
    status, current, _ = _call(session, "clear", namespace)
    _check(status, current)


def take_items(session: SessionBase, namespace: str) -> dict[str, int]:
    """Remove and return every item, atomically: two concurrent takers never both get them."""
    status, current, items = _call(session, "take", namespace)
    _check(status, current)
    return items


def restore_items(session: SessionBase, namespace: str, items: dict[str, int]) -> None:
    """Give back items taken by ``take_items`` (added to whatever is there now).

    Raise SessionGone if the session ended meanwhile: the items are not recreated.
    """
    flat: list[object] = []
    for item, quantity in items.items():
        flat += [item, quantity]
    if session.session_key is None:
        raise SessionGone()
    status, current, _ = _call(session, "restore", namespace, "", 0, 0, 0, 0, *flat)
    _check(status, current)
