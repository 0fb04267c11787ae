"""Role decorators for views: sign-in required and staff required, for pages and JSON.

JSON views (paths in ``SESSIONADMIN_JSON_PATHS``, or ``json=True``) answer 401
``AUTH_REQUIRED`` / 403 ``FORBIDDEN`` in the API's shape; pages redirect to the login
page (anonymous) or answer 403 (signed in but not allowed).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from sessionadmin.errors import AuthRequired, Forbidden, error_response, is_json_request
from sessionadmin.exceptions import BearerSignInRefused

View = Callable[..., HttpResponse]


def _guard(allowed: Callable[[Any], bool], json: bool | None = None) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            answer_json = is_json_request(request) if json is None else json
            user = request.user
            if not user.is_authenticated:
                if answer_json:
                    return error_response(AuthRequired())
                return redirect_to_login(request.get_full_path())
            if not allowed(user):
                if answer_json:
                    return error_response(Forbidden())
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


login_required = _guard(lambda user: True)
login_required.__doc__ = "Let only signed-in users through (JSON: 401, pages: to login)."

staff_required = _guard(lambda user: user.is_active and user.is_staff)
staff_required.__doc__ = "Let only active staff through (JSON: 401/403, pages: login/403)."


def permission_required(permission: str, *, json: bool | None = None) -> Callable[[View], View]:
    """Let only active staff holding ``permission`` through (superusers hold them all)."""
    return _guard(
        lambda user: user.is_active and user.is_staff and user.has_perm(permission), json
    )


def lists_own_sessions(view: View) -> View:
    """Mark a view that lists the signed-in user's own sessions (``list_user_sessions``
    with ``session=``): the session's one LOAD then reads them too, in the same round
    trip, instead of a second script."""
    view.lists_own_sessions = True  # type: ignore[attr-defined]
    return view


def no_bearer(view: View) -> View:
    """A view that signs in, signs up or signs out: refused (400) before it does anything
    for a request carrying a bearer token, whose session is the token's. (login() and
    logout() refuse it anyway, but a sign-up has created its user by then.)"""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "bearer", False):
            raise BearerSignInRefused()
        return view(request, *args, **kwargs)

    return wrapper


def wants_own_sessions(request: HttpRequest) -> bool:
    """Whether the view this request goes to is marked with ``lists_own_sessions``."""
    return _marked(getattr(request, "urlconf", None), request.path_info)


@functools.lru_cache(maxsize=512)
def _marked(urlconf: str | None, path: str) -> bool:
    try:
        match = resolve(path, urlconf)
    except Resolver404:
        return False
    return getattr(match.func, "lists_own_sessions", False)


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: object) -> None:
    if setting == "ROOT_URLCONF":  # as Django clears its own resolvers
        _marked.cache_clear()
