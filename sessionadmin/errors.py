"""Errors that carry their HTTP meaning, and how the app answers: JSON or a page.

The app's own answers (a timeout, a store outage, a refused sign-in, the staff API) are
JSON on the paths listed in ``SESSIONADMIN_JSON_PATHS`` (default: under ``/api/``) and
pages or redirects elsewhere. Errors render in one shape, ``{"error", "code"[,
"fields"]}`` (as rest_framework/exceptions.py carries status and code on the class); a
host project may subclass ``ApiError`` for its own API.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string

from sessionadmin.conf import get_settings
from sessionadmin.exceptions import SessionStoreUnavailable
from sessionadmin.logging import STORE_DOWN_ATTR
from sessionadmin.metrics import STORE_UNAVAILABLE

logger = logging.getLogger("sessionadmin")


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

    def headers(self) -> dict[str, str]:
        """Return headers the answer needs besides its body (Retry-After...)."""
        return {}


class ValidationFailed(ApiError):
    code, message = "VALIDATION_ERROR", "Some fields are not valid."


class AuthRequired(ApiError):
    status, code, message = 401, "AUTH_REQUIRED", "You need to sign in."


class SessionTimeout(ApiError):
    status, code = 401, "SESSION_TIMEOUT"
    message = "Your session has ended; please sign in again."


class Forbidden(ApiError):
    status, code, message = 403, "FORBIDDEN", "You are not allowed to do that."


class NotFound(ApiError):
    status, code, message = 404, "NOT_FOUND", "Not found."


class MethodNotAllowed(ApiError):
    status, code, message = 405, "METHOD_NOT_ALLOWED", "That method is not allowed here."

    def __init__(self, allow: str) -> None:
        super().__init__()
        self.allow = allow

    def headers(self) -> dict[str, str]:
        return {"Allow": self.allow}


class PayloadTooLarge(ApiError):
    status, code, message = 413, "PAYLOAD_TOO_LARGE", "The request body is too large."


class RateLimited(ApiError):
    status, code = 429, "RATE_LIMITED"
    message = "Too many failed sign-in attempts; try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class StoreUnavailable(ApiError):
    status, code = 503, "SESSION_STORE_UNAVAILABLE"
    message = "The session store is unavailable; try again in a moment."


class SessionInterruptedError(ApiError):
    code = "SESSION_INTERRUPTED"
    message = "Your session ended while this request was running (signed out elsewhere?)."


class InternalError(ApiError):
    status, code, message = 500, "INTERNAL_ERROR", "Something went wrong on our side."


def is_json_request(request: HttpRequest) -> bool:
    """Return whether the request's path is one answered in JSON (SESSIONADMIN_JSON_PATHS)."""
    return request.path.startswith(get_settings().json_paths)


def json_response(data: Any, status: int = 200) -> HttpResponse:
    """Return ``data`` as a JSON response (orjson)."""
    return HttpResponse(
        orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
        status=status,
        content_type="application/json",
    )


def error_response(error: ApiError) -> HttpResponse:
    """Render an ApiError in the API's shape."""
    response = json_response(error.body(), status=error.status)
    for name, value in error.headers().items():
        response[name] = value
    return response


_last_outage_log = 0.0


def log_store_outage(exc: BaseException) -> None:
    """Log a store outage at most once a minute per process, not once per request."""
    global _last_outage_log
    now = time.monotonic()
    if now - _last_outage_log > 60:
        _last_outage_log = now
        logger.error("Session store unavailable: %s", exc)


def store_unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """Answer 503: JSON on JSON paths, the project's 503.html (or a plain page) elsewhere."""
    log_store_outage(exc)
    if not getattr(request, STORE_DOWN_ATTR, False):
        STORE_UNAVAILABLE.inc()  # once per request, however many parts of it failed
    setattr(request, STORE_DOWN_ATTR, True)  # logged once: Django's line for it is dropped
    if is_json_request(request):
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


_FAILED = "_sessionadmin_store_failed"  # the outage Django turned into a 500 (below)
RESPONSE_STATE = (_FAILED,)  # what SessionMiddleware's response step answers (store_failure)


def note_store_failure(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """``got_request_exception``: remember a Redis outage Django answers 500 for. Raised in a
    middleware below SessionMiddleware (a sign-in by RemoteUserMiddleware), it reaches no
    ``process_exception()``; SessionMiddleware's response step makes that 500 a 503."""
    exc = sys.exc_info()[1]
    if request is not None and isinstance(exc, SessionStoreUnavailable):
        request.__dict__[_FAILED] = exc


def store_failure(request: HttpRequest) -> SessionStoreUnavailable | None:
    """The outage note_store_failure remembered for this request, taken (None if none)."""
    return request.__dict__.pop(_FAILED, None)


def exception_to_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """Return the JSON answer to any exception; unexpected ones are logged as 500."""
    if isinstance(exc, ApiError):
        return error_response(exc)
    if isinstance(exc, SessionStoreUnavailable):
        return store_unavailable_response(request, exc)
    if isinstance(exc, RequestDataTooBig):
        return error_response(PayloadTooLarge())
    if isinstance(exc, UpdateError | SessionInterrupted):
        return error_response(SessionInterruptedError())
    if isinstance(exc, Http404):
        return error_response(NotFound())
    if isinstance(exc, PermissionDenied):
        return error_response(Forbidden())
    logger.error("Internal error on %s", request.path, exc_info=exc)
    return error_response(InternalError())


def json_view(*methods: str) -> Callable:
    """Make a view answer only ``methods``, and every exception in the API's shape."""
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
