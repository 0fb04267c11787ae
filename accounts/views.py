"""The accounts pages: plain HTML forms over the same services as the API."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.forms import LoginForm, PasswordChangeForm, RegisterForm
from sessionadmin import services as sessions
from sessionadmin.decorators import lists_own_sessions, login_required, no_bearer
from sessionadmin.devices import device_label
from sessionadmin.errors import ApiError, RateLimited, ValidationFailed

REASONS = {
    "idle": "You were signed out after a period of inactivity. Please sign in again.",
    "absolute": "Your session reached its maximum length. Please sign in again.",
    "revoked": "Your session was ended. Please sign in again.",
}


def _next_url(request: HttpRequest) -> str:
    """Return ``next`` if it points at this site, else the home page."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if safe else "/"


def _apply_errors(form, error: ApiError) -> None:
    if isinstance(error, ValidationFailed) and error.fields:
        for field, problems in error.fields.items():
            name = field if field in form.fields else None
            for problem in problems:
                # The service checked the same form: what it found, the page's already says.
                if problem not in form.errors.get(name or "__all__", []):
                    form.add_error(name, problem)
    else:
        form.add_error(None, error.message)


@never_cache
@require_http_methods(["GET", "POST"])
@no_bearer
def register(request: HttpRequest) -> HttpResponse:
    form = RegisterForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        try:
            services.register(request, request.POST.dict())
        except ApiError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, "Welcome! Your account is ready and you are signed in.")
            return redirect(_next_url(request))
    return render(request, "accounts/register.html", {"form": form, "next": _next_url(request)})


@never_cache
@require_http_methods(["GET", "POST"])
@no_bearer
def login(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST if request.method == "POST" else None)
    status, retry_after = 200, None
    if request.method == "POST":
        try:
            services.sign_in(request, request.POST.dict())
        except RateLimited as error:
            minutes = max(1, round(error.retry_after / 60))
            form.add_error(None, f"Too many failed attempts. Try again in {minutes} min.")
            status, retry_after = 429, error.retry_after
        except ApiError as error:
            _apply_errors(form, error)
            status = error.status
        else:
            return redirect(_next_url(request))
    context = {
        "form": form,
        "next": _next_url(request),
        "reason": REASONS.get(request.GET.get("reason", "")),
    }
    response = render(request, "accounts/login.html", context, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


@require_POST
@no_bearer
def logout(request: HttpRequest) -> HttpResponse:
    services.sign_out(request)
    # Clear-Site-Data also clears a message stored in a cookie by this very response, so
    # the page it leads to says it (sessionsite.views.home).
    response = redirect("/?signed_out=1")
    response["Clear-Site-Data"] = '"cookies"'  # as the API's logout: nothing left behind
    return response


@never_cache
@login_required
def profile(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/profile.html")


@lists_own_sessions  # read by the request's one LOAD
@never_cache
@login_required
def my_sessions(request: HttpRequest) -> HttpResponse:
    records = sessions.list_user_sessions(request.user.pk, session=request.session)
    current = sessions.current_session_id(request.session)
    rows = [
        {
            "record": record,
            "device": device_label(record.user_agent),
            "current": record.id == current,
        }
        for record in records
    ]
    return render(request, "accounts/sessions.html", {"sessions": rows})


@require_POST
@login_required
def revoke_session(request: HttpRequest, session_id: str) -> HttpResponse:
    if sessions.revoke_own_session(request.user.pk, session_id):
        messages.success(request, "That session has been signed out.")
    else:
        messages.error(request, "That session no longer exists.")
    return redirect("accounts:sessions")


@require_POST
@login_required
def revoke_others(request: HttpRequest) -> HttpResponse:
    count = sessions.revoke_user_sessions(request.user.pk, keep=request.session, by="user")
    messages.success(request, f"Signed out {count} other session{'s' if count != 1 else ''}.")
    return redirect("accounts:sessions")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def password(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(
        request.user, request.POST if request.method == "POST" else None, request=request
    )
    status = 200
    if request.method == "POST":
        try:
            ended = services.apply_password_change(request, form)
        except RateLimited:  # the form says so, and when to retry
            status = 429
        except ApiError:
            pass  # the form holds the errors, Django's own included
        else:
            others = (
                f" {ended} other session{'s' if ended != 1 else ''} signed out." if ended else ""
            )
            messages.success(request, f"Your password has been changed.{others}")
            return redirect("accounts:profile")
    return render(request, "accounts/password.html", {"form": form}, status=status)
