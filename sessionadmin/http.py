"""The JSON API's plumbing: errors that carry their HTTP meaning, rendered in one place.

Services raise an ``ApiError`` subclass (as rest_framework/exceptions.py does); the
``api_view`` decorator and the site's error handlers turn it into API.md's shape
``{"error", "code"[, "fields"]}``. Views never build error JSON by hand.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string

from sessionadmin.exceptions import SessionStoreUnavailable

logger = logging.getLogger("sessionadmin")
API_PREFIX = "/api/"


class ApiError(Exception):
    status = 400
    code = "BAD_REQUEST"
    message = "The request could not be understood."

    def __init__(
        self,
        message: str | None = None,
        *,
        fields: dict[str, list[str]] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.fields = fields
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message, "code": self.code}
        if self.fields is not None:
            body["fields"] = self.fields
        body.update(self.extra)
        return body


class BadJson(ApiError):
    code, message = "BAD_JSON", "The request body must be a JSON object."


class ValidationFailed(ApiError):
    code, message = "VALIDATION_ERROR", "Some fields are not valid."


class AuthRequired(ApiError):
    status, code, message = 401, "AUTH_REQUIRED", "You need to sign in."


class SessionTimeout(ApiError):
    status, code = 401, "SESSION_TIMEOUT"
    message = "Your session has ended; please sign in again."


class InvalidCredentials(ApiError):
    status, code, message = 401, "INVALID_CREDENTIALS", "Wrong username or password."


class Forbidden(ApiError):
    status, code, message = 403, "FORBIDDEN", "You are not allowed to do that."


class CsrfFailed(ApiError):
    status, code = 403, "CSRF_FAILED"
    message = "The CSRF token is missing or wrong: get one from /api/csrf."


class NotFound(ApiError):
    status, code, message = 404, "NOT_FOUND", "Not found."


class MethodNotAllowed(ApiError):
    status, code, message = 405, "METHOD_NOT_ALLOWED", "That method is not allowed here."


class Conflict(ApiError):
    status, code, message = 409, "CONFLICT", "The request conflicts with the current state."


class PayloadTooLarge(ApiError):
    status, code, message = 413, "PAYLOAD_TOO_LARGE", "The request body is too large."


class RateLimited(ApiError):
    status, code, message = 429, "RATE_LIMITED", "Too many attempts; try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class StoreUnavailable(ApiError):
    status, code = 503, "SESSION_STORE_UNAVAILABLE"
    message = "The session store is unavailable; try again in a moment."


class InternalError(ApiError):
    status, code, message = 500, "INTERNAL_ERROR", "Something went wrong on our side."


class SessionInterruptedError(ApiError):
    code = "SESSION_INTERRUPTED"
    message = "Your session ended while this request was running (signed out elsewhere?)."


def is_whole_number(text: str, max_digits: int = 12) -> bool:
    """Return whether ``text`` is a plain decimal whole number (ASCII digits only).

    ``str.isdigit()`` alone accepts "²" and other Unicode digits that int() then rejects.
    """
    return 0 < len(text) <= max_digits and text.isascii() and text.isdigit()


def is_api_request(request: HttpRequest) -> bool:
    """Return whether the request expects JSON errors (the API and the health check)."""
    return request.path.startswith(API_PREFIX) or request.path == "/healthz"


def error_response(error: ApiError) -> HttpResponse:
    """Render an ApiError in API.md's shape."""
    headers = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, MethodNotAllowed) and "allow" in error.extra:
        headers["Allow"] = error.extra.pop("allow")
    response = json_response(error.body(), status=error.status)
    for name, value in headers.items():
        response[name] = value
    return response


def json_response(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(
        orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
        status=status,
        content_type="application/json",
    )


_last_outage_log = 0.0


def log_store_outage(exc: BaseException) -> None:
    """Log a store outage at most once a minute per process, not once per request."""
    global _last_outage_log
    now = time.monotonic()
    if now - _last_outage_log > 60:
        _last_outage_log = now
        logger.error("Session store unavailable: %s", exc)


def store_unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """Answer 503: JSON on the API, the friendly 503 page elsewhere."""
    log_store_outage(exc)
    if is_api_request(request):
        response = error_response(StoreUnavailable())
    else:
        try:
            html = render_to_string("503.html", {"reason": "store"})
        except TemplateDoesNotExist:
            html = "<h1>Service unavailable</h1><p>Please try again in a moment.</p>"
        response = HttpResponse(html, status=503)
    response["Retry-After"] = "5"
    response["Cache-Control"] = "no-store"
    return response


def exception_to_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """Return the API response for any exception; unexpected ones are logged as 500."""
    if isinstance(exc, ApiError):
        return error_response(exc)
    if isinstance(exc, SessionStoreUnavailable):
        return store_unavailable_response(request, exc)
    if isinstance(exc, RequestDataTooBig):
        return error_response(PayloadTooLarge())
    if isinstance(exc, Http404):
        return error_response(NotFound())
    if isinstance(exc, PermissionDenied):
        return error_response(Forbidden())
    logger.error("Internal error on %s", request.path, exc_info=exc)
    return error_response(InternalError())


def api_view(*methods: str) -> Callable:
    """Make a view answer only ``methods`` and turn every exception into API.md's shape."""
    allowed = {m.upper() for m in methods}

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in allowed:
                return error_response(MethodNotAllowed(allow=", ".join(sorted(allowed))))
            try:
                return view(request, *args, **kwargs)
            except Exception as exc:
                return exception_to_response(request, exc)

        return wrapper

    return decorator


def json_body(request: HttpRequest) -> dict[str, Any]:
    """Return the request body as a JSON object, or raise BadJson / PayloadTooLarge."""
    try:
        raw = request.body
    except RequestDataTooBig as exc:
        raise PayloadTooLarge() from exc
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
