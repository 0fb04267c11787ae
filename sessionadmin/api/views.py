"""The staff JSON API over active sessions (API.md's /api/admin/...).

Every answer is JSON, wherever the project mounts it: errors in the API's shape, 401
``AUTH_REQUIRED`` for anonymous callers, 403 ``FORBIDDEN`` without the permission.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache

from sessionadmin import events, services
from sessionadmin.admin.audit import record_revocation
from sessionadmin.decorators import permission_required
from sessionadmin.errors import NotFound, json_response, json_view
from sessionadmin.models import REVOKE_PERMISSION, VIEW_PERMISSION


@never_cache
@json_view("GET")
@permission_required(VIEW_PERMISSION, json=True)
def sessions(request: HttpRequest) -> HttpResponse:
    result = services.list_sessions(**services.parse_listing_filters(request.GET))
    current = services.current_session_id(request.session)
    return json_response(
        {
            "count": result.count,
            "page": result.page,
            "page_size": result.page_size,
            "complete": result.complete,
            "results": services.serialize_sessions(result.results, current_id=current),
            **({"next_cursor": result.next_cursor} if "cursor" in request.GET else {}),
        }
    )


@never_cache
@json_view("DELETE")
@permission_required(REVOKE_PERMISSION, json=True)
def revoke(request: HttpRequest, session_id: str) -> HttpResponse:
    if not services.revoke_session(session_id, by="staff"):
        raise NotFound("No such session.")
    record_revocation(request.user, session_id=session_id)
    return HttpResponse(status=204)


@never_cache
@json_view("POST")
@permission_required(REVOKE_PERMISSION, json=True)
def revoke_user(request: HttpRequest, user_id: str) -> HttpResponse:
    resolved = services.user_id_of(user_id)
    if resolved is None:
        raise NotFound("No such user.")
    count = services.revoke_user_sessions(resolved, by="staff")
    record_revocation(request.user, user_id=resolved, count=count)
    return json_response({"revoked": count})


@never_cache
@json_view("GET")
@permission_required(VIEW_PERMISSION, json=True)
def stats(request: HttpRequest) -> HttpResponse:
    return json_response(services.session_stats())


@never_cache
@json_view("GET")
@permission_required(VIEW_PERMISSION, json=True)
def events_list(request: HttpRequest) -> HttpResponse:
    found, cursor = events.recent(**events.parse_filters(request.GET))
    return json_response({"results": events.serialize(found), "next_cursor": cursor})
