"""The staff JSON API over active sessions (API.md's /api/admin/...)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.cache import never_cache

from sessionadmin import services
from sessionadmin.audit import record_revocation
from sessionadmin.decorators import permission_required
from sessionadmin.http import (
    NotFound,
    ValidationFailed,
    api_view,
    is_whole_number,
    json_response,
)
from sessionadmin.models import REVOKE_PERMISSION, VIEW_PERMISSION


def _int_param(request: HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    if not is_whole_number(raw) or not low <= int(raw) <= high:
        raise ValidationFailed(fields={name: [f"Must be a whole number from {low} to {high}."]})
    return int(raw)


def listing_filters(request: HttpRequest) -> dict:
    """Parse the listing's query parameters; raise ValidationFailed on a bad value."""
    authenticated = request.GET.get("authenticated", "")
    if authenticated not in {"", "true", "false"}:
        raise ValidationFailed(fields={"authenticated": ["Must be true or false."]})
    user = request.GET.get("user", "").strip()
    user_id = None
    if user:
        user_id = services.resolve_user_id(user)
        if user_id is None:
            raise ValidationFailed(fields={"user": ["No such user."]})
    return {
        "page": _int_param(request, "page", 1, 1, 10**6),
        "page_size": _int_param(request, "page_size", 50, 1, services.MAX_PAGE_SIZE),
        "authenticated": {"": None, "true": True, "false": False}[authenticated],
        "user_id": user_id,
        "query": request.GET.get("q", "")[:200],
    }


@never_cache
@api_view("GET")
@permission_required(VIEW_PERMISSION)
def sessions(request: HttpRequest) -> HttpResponse:
    result = services.list_sessions(**listing_filters(request))
    current = services.current_session_id(request.session)
    return json_response(
        {
            "count": result.count,
            "page": result.page,
            "page_size": result.page_size,
            "complete": result.complete,
            "results": services.serialize_sessions(result.results, current_id=current),
        }
    )


@never_cache
@api_view("DELETE")
@permission_required(REVOKE_PERMISSION)
def revoke(request: HttpRequest, session_id: str) -> HttpResponse:
    if not services.revoke_session(session_id):
        raise NotFound("No such session.")
    record_revocation(request.user, session_id=session_id)
    return HttpResponse(status=204)


@never_cache
@api_view("POST")
@permission_required(REVOKE_PERMISSION)
def revoke_user(request: HttpRequest, user_id: str) -> HttpResponse:
    if not is_whole_number(user_id) or services.resolve_user_id(user_id) is None:
        raise NotFound("No such user.")
    count = services.revoke_user_sessions(user_id)
    record_revocation(request.user, user_id=user_id, count=count)
    return json_response({"revoked": count})


@never_cache
@api_view("GET")
@permission_required(VIEW_PERMISSION)
def stats(request: HttpRequest) -> HttpResponse:
    return json_response(services.session_stats())


urlpatterns = [
    path("api/admin/sessions", sessions),
    path("api/admin/sessions/stats", stats),
    path("api/admin/sessions/<str:session_id>", revoke),
    path("api/admin/users/<str:user_id>/revoke-sessions", revoke_user),
]
