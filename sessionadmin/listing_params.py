"""The query parameters of the staff listings (API and dashboard), checked: bad input is a
ValidationFailed (400 VALIDATION_ERROR), never a 500."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sessionadmin.auth import users
from sessionadmin.errors import ValidationFailed
from sessionadmin.index import queries

MAX_PAGE_SIZE = 200


def _whole(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 12) or not low <= int(raw) <= high:
        raise ValidationFailed(fields={name: [f"Must be a whole number from {low} to {high}."]})
    return int(raw)


def parse_listing_filters(params: Mapping[str, str]) -> dict[str, Any]:
    """Return list_sessions() arguments from query parameters; raise ValidationFailed."""
    authenticated = params.get("authenticated", "")
    if authenticated not in {"", "true", "false"}:
        raise ValidationFailed(fields={"authenticated": ["Must be true or false."]})
    kind = params.get("kind", "")
    if kind not in {"", "browser", "token"}:
        raise ValidationFailed(fields={"kind": ["Must be browser or token."]})
    user = params.get("user", "").strip()
    user_id = None
    if user:
        user_id = users.resolve_user(user)
        if user_id is None:
            raise ValidationFailed(fields={"user": ["No such user."]})
    cursor = params.get("cursor")
    if cursor is not None:
        try:
            queries.decode_cursor(cursor.strip())
        except ValueError:
            raise ValidationFailed(
                fields={"cursor": ["Not a cursor from a previous page."]}
            ) from None
        if user or params.get("q") or kind:
            raise ValidationFailed(
                fields={
                    "cursor": ["Only a listing without a search, user or kind pages by cursor."]
                }
            )
    return {
        "cursor": cursor.strip() if cursor is not None else None,
        "page": _whole(params, "page", 1, 1, 10**6),
        "page_size": _whole(params, "page_size", 50, 1, MAX_PAGE_SIZE),
        "authenticated": {"": None, "true": True, "false": False}[authenticated],
        "user_id": user_id,
        "query": params.get("q", "")[:200],
        "kind": kind,
    }
