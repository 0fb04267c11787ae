"""The site's URLs plus a plain authenticated read view that changes nothing."""

import base64

from django.conf import settings
from django.contrib.auth import (
    aauthenticate,
    alogin,
    alogout,
    authenticate,
    get_user_model,
    login,
    logout,
    update_session_auth_hash,
)
from django.contrib.auth.views import LoginView, PasswordChangeView
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.urls import path

from sessionadmin import services
from sessionadmin.store.client import redis_client
from sessionsite.http import api_view, json_body
from sessionsite.urls import handler400, handler403, handler404, handler500  # noqa: F401
from sessionsite.urls import urlpatterns as site_patterns
from tests.helpers import every_master


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"user": request.user.get_username() or None})


async def async_login(request: HttpRequest) -> JsonResponse:
    """A project's async sign-in view: Django's aauthenticate() and alogin()."""
    form = request.POST
    user = await aauthenticate(request, username=form["username"], password=form["password"])
    if user is None:
        return JsonResponse({"signed_in": False}, status=400)
    await alogin(request, user)
    return JsonResponse({"signed_in": True})


def sign_in_by_hand(request: HttpRequest) -> JsonResponse:
    """A view that signs a user in by setting django.contrib.auth's session keys itself,
    without login() (as some older code does)."""
    user = get_user_model().objects.get(username=request.POST["username"])
    request.session["_auth_user_id"] = str(user.pk)
    request.session["_auth_user_backend"] = settings.AUTHENTICATION_BACKENDS[-1]
    request.session["_auth_user_hash"] = user.get_session_auth_hash()
    return JsonResponse({"signed_in": True})


async def async_logout(request: HttpRequest) -> JsonResponse:
    await alogout(request)
    return JsonResponse({"signed_out": True})


class WrappedRequest:
    """As Django REST framework's Request: the HttpRequest as ``_request``, its other
    attributes read through (its authentication classes call authenticate() with it)."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request

    def __getattr__(self, name: str):
        return getattr(self._request, name)


class RedirectingPasswordChange(PasswordChangeView):
    """A project's PasswordChangeView that redirects on a refused form (to a page saying
    so) rather than showing it again."""

    success_url = "/test/whoami"

    def form_invalid(self, form):
        return HttpResponseRedirect("/test/whoami?refused=1")


class SignOutAfterPasswordChange(PasswordChangeView):
    """A project's PasswordChangeView that signs the user out after the change ("sign in
    again with your new password")."""

    def form_valid(self, form):
        form.save()
        logout(self.request)
        return HttpResponseRedirect("/test/whoami")


def basic_auth(request: HttpRequest) -> JsonResponse:
    """HTTP Basic, as an API's authentication class does it: authenticate(), no login()."""
    _, _, encoded = request.headers.get("Authorization", "").partition(" ")
    username, _, password = base64.b64decode(encoded).decode().partition(":")
    wrapped = request.GET.get("wrapped") == "1"
    user = authenticate(WrappedRequest(request) if wrapped else request, username=username,
                        password=password)  # fmt: skip
    return JsonResponse(
        {"user": user.get_username() if user else None}, status=200 if user else 401
    )


def save_me(request: HttpRequest) -> JsonResponse:
    """A profile form's work: set some of request.user's fields, then save() it whole."""
    user = request.user
    user.pk  # noqa: B018 (the lazy object evaluated: its _wrapped is the user)
    from_copy = "_sessionadmin_copy_values" in user._wrapped.__dict__  # built from the copy
    for name, value in request.POST.items():
        setattr(user, name, value)
    user.save()
    return JsonResponse({"from_copy": from_copy})


def sign_up(request: HttpRequest) -> JsonResponse:
    """A sign-up view's end: the new user signed in with login(request, user), no backend=."""
    user = get_user_model().objects.create_user(request.POST["username"], "", "pw 1234 5678")
    login(request, user)
    return JsonResponse({"user": request.user.get_username()})


def django_get_user(request: HttpRequest) -> JsonResponse:
    """Third-party code reading the user with Django's own get_user() (no copy, no hook)."""
    from django.contrib.auth import get_user

    return JsonResponse({"user": get_user(request).get_username() or None})


def boom(request: HttpRequest) -> JsonResponse:
    raise RuntimeError("a bug")


@api_view("POST")
def echo(request: HttpRequest) -> JsonResponse:
    return JsonResponse(json_body(request))


@api_view("POST")
def revoke_self(request: HttpRequest) -> JsonResponse:
    """Revoke the caller's own session mid-request, then change it (a request in flight)."""
    services.revoke_session(services.current_session_id(request.session))
    request.session["late"] = True
    return JsonResponse({"ok": True})


@api_view("POST")
def revoke_then_cycle(request: HttpRequest) -> JsonResponse:
    """Revoke the caller's own session mid-request, then cycle its key, as a password
    change does with update_session_auth_hash() (a request loaded before the revoke)."""
    services.revoke_session(services.current_session_id(request.session))
    update_session_auth_hash(request, request.user)
    return JsonResponse({"ok": True})


def pause_redis_after(request: HttpRequest) -> JsonResponse:
    """Finish the view's work, then make Redis refuse writes for longer than the
    client's timeouts: the lazy touch after the view is what fails."""
    client = redis_client()
    client.client_pause(2500, all=False, **every_master(client))
    return JsonResponse({"done": True})


urlpatterns = [
    path("api/test/revoke-then-cycle", revoke_then_cycle),
    path("test/pause-redis-after", pause_redis_after),
    # A third-party login view: Django's own, with none of this site's code in it.
    path("test/django-login/", LoginView.as_view(template_name="admin/login.html")),
    # Django's own password change: its form, update_session_auth_hash(), nothing of ours.
    path("test/django-password/", PasswordChangeView.as_view(success_url="/test/whoami")),
    path("test/django-password-redirecting/", RedirectingPasswordChange.as_view()),
    path("test/django-password-then-sign-out/", SignOutAfterPasswordChange.as_view()),
    path("test/whoami", whoami),
    path("test/async-login", async_login),
    path("test/async-logout", async_logout),
    path("test/sign-in-by-hand", sign_in_by_hand),
    path("test/basic", basic_auth),
    path("test/save-me", save_me),
    path("test/sign-up", sign_up),
    path("test/django-get-user", django_get_user),
    path("test/boom", boom),
    path("api/test/boom", api_view("GET")(boom)),
    path("api/test/echo", echo),
    path("api/test/revoke-self", revoke_self),
    *site_patterns,
]
