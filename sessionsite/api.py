"""The site's own JSON endpoints: CSRF token, session status and keepalive, health."""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.views.decorators.cache import never_cache

from sessionadmin import services
from sessionadmin.errors import NotFound, json_response
from sessionadmin.exceptions import SessionStoreUnavailable
from sessionadmin.index.queries import counts
from sessionsite.http import api_view

VIEWS_KEY = "views"


def _session_body(request: HttpRequest) -> dict[str, Any]:
    idle, absolute = services.session_deadlines(request.session)
    user = request.user
    return {
        "authenticated": user.is_authenticated,
        "user": {"id": user.pk, "username": user.get_username()}
        if user.is_authenticated
        else None,
        "views": request.session.get(VIEWS_KEY, 0),
        "idle_expires_at": idle.isoformat() if idle else None,
        "absolute_expires_at": absolute.isoformat() if absolute else None,
    }


@never_cache
@api_view("GET")
def csrf(request: HttpRequest) -> HttpResponse:
    return json_response({"csrfToken": get_token(request)})


@never_cache
@api_view("GET")
def session(request: HttpRequest) -> HttpResponse:
    """Return the session's state and count one more view (the seeds' counter)."""
    request.session[VIEWS_KEY] = request.session.get(VIEWS_KEY, 0) + 1
    return json_response(_session_body(request))


@never_cache
@api_view("POST")
def keepalive(request: HttpRequest) -> HttpResponse:
    """Reset the idle timer ("stay signed in")."""
    services.keep_alive(request.session)
    return json_response(_session_body(request))


@never_cache
@api_view("GET")
def healthz(request: HttpRequest) -> HttpResponse:
    """Answer 200 when Redis and the database answer, else 503 naming what is down."""
    checks = {"redis": "ok", "database": "ok"}
    try:
        counts()
    except SessionStoreUnavailable:
        checks["redis"] = "unavailable"
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        checks["database"] = "unavailable"
    if checks["redis"] != "ok":
        code, error = "SESSION_STORE_UNAVAILABLE", "The session store is unavailable."
    elif checks["database"] != "ok":
        code, error = "DATABASE_UNAVAILABLE", "The database is unavailable."
    else:
        return json_response({"status": "ok", "checks": checks})
    return json_response({"error": error, "code": code, "checks": checks}, status=503)


@api_view("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Answer unknown /api/ paths in the API's shape, even with DEBUG on."""
    raise NotFound(f"No API endpoint at {request.path}.")
