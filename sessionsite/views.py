"""Home page and the error handlers (JSON under /api/, templates elsewhere)."""

from __future__ import annotations

import sys

from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from sessionadmin import errors
from sessionadmin.exceptions import BearerSignInRefused, SessionStoreUnavailable
from sessionsite.api import VIEWS_KEY
from sessionsite.http import CsrfFailed


def home(request: HttpRequest) -> HttpResponse:
    """The seeds' demo: a per-session view counter and a button that clears the session."""
    if request.GET.get("signed_out") == "1" and not request.user.is_authenticated:
        messages.info(request, "You have been signed out.")
    request.session[VIEWS_KEY] = request.session.get(VIEWS_KEY, 0) + 1
    return render(request, "home.html", {"views": request.session[VIEWS_KEY]})


@require_http_methods(["POST"])
def clear_session(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    return redirect("home")


def _page_or_json(request: HttpRequest, error: errors.ApiError, template: str) -> HttpResponse:
    if errors.is_json_request(request):
        return errors.error_response(error)
    return render(request, template, status=error.status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    from django.contrib.sessions.exceptions import SessionInterrupted

    if isinstance(exception, SessionInterrupted):
        return _page_or_json(request, errors.SessionInterruptedError(), "400.html")
    if isinstance(exception, BearerSignInRefused):
        return _page_or_json(request, errors.ApiError(str(exception)), "400.html")
    if isinstance(exception, RequestDataTooBig):  # a form body, read first by CSRF's check
        return _page_or_json(request, errors.PayloadTooLarge(), "400.html")
    return _page_or_json(request, errors.ApiError(), "400.html")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page_or_json(request, errors.Forbidden(), "403.html")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page_or_json(request, errors.NotFound(), "404.html")


def server_error(request: HttpRequest) -> HttpResponse:
    # Called inside Django's exception handling: a Redis outage that escaped the session
    # middleware (for example from another middleware) is still a 503, not a 500.
    exc = sys.exc_info()[1]
    while exc is not None:
        if isinstance(exc, SessionStoreUnavailable):
            return errors.store_unavailable_response(request, exc)
        exc = exc.__cause__
    if errors.is_json_request(request):
        return errors.error_response(errors.InternalError())
    return render(request, "500.html", status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _page_or_json(request, CsrfFailed(), "403_csrf.html")
