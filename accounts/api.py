"""The accounts JSON API (API.md): register, login, logout, profile, password, sessions."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from accounts import services
from sessionadmin import services as sessions
from sessionadmin.decorators import lists_own_sessions, login_required
from sessionadmin.errors import ApiError, NotFound, json_response
from sessionsite.http import BadJson, api_view, json_body


@never_cache
@api_view("POST")
def register(request: HttpRequest) -> HttpResponse:
    _no_bearer(request)
    user = services.register(request, json_body(request))
    return json_response({"user": services.user_dict(user)}, status=201)


@never_cache
@api_view("POST")
def login(request: HttpRequest) -> HttpResponse:
    _no_bearer(request)
    user = services.sign_in(request, json_body(request))
    return json_response({"user": services.user_dict(user)})


@never_cache
@api_view("POST")
def logout(request: HttpRequest) -> HttpResponse:
    _no_bearer(request)
    services.sign_out(request)
    response = json_response({"ok": True})
    response["Clear-Site-Data"] = '"cookies"'
    return response


@never_cache
@api_view("GET")
@login_required
def profile(request: HttpRequest) -> HttpResponse:
    record = sessions.current_session_record(request.session)  # read by the one LOAD
    session = (
        sessions.serialize_sessions([record], current_id=record.id, owner=request.user)[0]
        if record
        else None
    )
    return json_response({"user": services.user_dict(request.user), "session": session})


@never_cache
@api_view("POST")
@login_required
def password(request: HttpRequest) -> HttpResponse:
    services.change_password(request, json_body(request))
    return json_response({"ok": True})


@lists_own_sessions  # read by the request's one LOAD
@never_cache
@api_view("GET")
@login_required
def my_sessions(request: HttpRequest) -> HttpResponse:
    records = sessions.list_user_sessions(request.user.pk, session=request.session)
    current = sessions.current_session_id(request.session)
    rows = sessions.serialize_sessions(records, current_id=current, owner=request.user)
    return json_response({"results": rows})


@never_cache
@api_view("DELETE")
@login_required
def revoke_my_session(request: HttpRequest, session_id: str) -> HttpResponse:
    if not sessions.revoke_own_session(request.user.pk, session_id):
        raise NotFound("No such session of yours.")
    return HttpResponse(status=204)


@never_cache
@api_view("POST")
@login_required
def revoke_other_sessions(request: HttpRequest) -> HttpResponse:
    revoked = sessions.revoke_user_sessions(request.user.pk, keep=request.session, by="user")
    return json_response({"revoked": revoked})


@never_cache
@csrf_exempt  # no cookie is read or set here: a cross-site POST gains nothing (API.md)
@api_view("POST")
def issue_token(request: HttpRequest) -> HttpResponse:
    # JSON only: a cross-site form or text/plain POST (no CORS preflight) cannot spend the
    # visitor's login attempts here, as CSRF protection is off for this endpoint.
    if request.content_type != "application/json":
        raise BadJson("Send the credentials as a JSON object (application/json).")
    token, session_id = services.issue_token(request, json_body(request))
    record = sessions.get_session(session_id)
    session = sessions.serialize_sessions([record])[0] if record else None
    return json_response({"token": token, "session": session}, status=201)


@never_cache
@api_view("DELETE")
def end_current_token(request: HttpRequest) -> HttpResponse:
    if not getattr(request, "bearer", False):
        raise NotFound("No token in this request: send it as Authorization: Bearer <token>.")
    sessions.revoke_session(sessions.current_session_id(request.session), reason="logout")
    return HttpResponse(status=204)


def _no_bearer(request: HttpRequest) -> None:
    # A token is a session of its own: signing a browser in or out through it would
    # replace or end the token itself.
    if getattr(request, "bearer", False):
        raise ApiError("A bearer token cannot sign in or out; DELETE /api/tokens/current ends it.")
