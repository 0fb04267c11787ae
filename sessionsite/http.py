"""The site's JSON API framework: ``api_view``, ``json_body`` and the site's own errors.

Built on ``sessionadmin.errors``, whose ``ApiError`` classes carry status and code (as
rest_framework/exceptions.py does) and whose ``json_view`` turns every exception into
API.md's shape ``{"error", "code"[, "fields"]}``: views never build error JSON by hand,
and anything unexpected is a logged 500 ``INTERNAL_ERROR``. Errors that only one app
raises live in that app (``accounts.services``, ``cart.services``).
"""

from __future__ import annotations

from typing import Any

import orjson
from django.core.exceptions import RequestDataTooBig
from django.http.request import RawPostDataException

from sessionadmin.errors import ApiError, PayloadTooLarge, json_view

api_view = json_view


class BadJson(ApiError):
    code, message = "BAD_JSON", "The request body must be a JSON object."


class CsrfFailed(ApiError):
    status, code = 403, "CSRF_FAILED"
    message = "The CSRF token is missing or wrong: get one from /api/csrf."


def is_whole_number(text: str, max_digits: int = 12) -> bool:
    """Return whether ``text`` is a plain decimal whole number (ASCII digits only).

    ``str.isdigit()`` alone accepts "²" and other Unicode digits that int() then rejects.
    """
    return 0 < len(text) <= max_digits and text.isascii() and text.isdigit()


def json_body(request: Any) -> dict[str, Any]:
    """Return the request body as a JSON object, or raise BadJson / PayloadTooLarge."""
    try:
        raw = request.body
    except RequestDataTooBig as exc:
        raise PayloadTooLarge() from exc
    except RawPostDataException as exc:  # a form body, read as such (CSRF's check) first
        raise BadJson() from exc
    if not raw:
        return {}
    try:
        # orjson rejects invalid UTF-8 and nesting deeper than 1024 levels by itself.
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadJson() from exc
    if not isinstance(data, dict):
        raise BadJson()
    return data
