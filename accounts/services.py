"""What the accounts views do: register, sign in and out, change the password.

Views (pages and API) call these and render the outcome; errors are sessionadmin.http
exceptions (ValidationFailed, InvalidCredentials, RateLimited) the API renders as is and
the pages turn into form errors.
"""

from __future__ import annotations

from typing import Any

from django.contrib import auth
from django.contrib.auth.base_user import AbstractBaseUser
from django.forms import Form
from django.http import HttpRequest

from accounts import ratelimit
from accounts.forms import LoginForm, PasswordChangeForm, RegisterForm
from sessionadmin import services as sessions
from sessionadmin.http import InvalidCredentials, ValidationFailed

BACKEND = "accounts.backends.UsernameOrEmailBackend"


def user_dict(user: AbstractBaseUser) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.get_username(),
        "email": user.email,
        "is_staff": user.is_staff,
    }


def form_errors(form: Form) -> ValidationFailed:
    fields = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
    return ValidationFailed(fields=fields)


def register(request: HttpRequest, data: dict[str, Any]) -> AbstractBaseUser:
    """Create the user from the form data and sign them in; raise ValidationFailed."""
    form = RegisterForm(data)
    if not form.is_valid():
        raise form_errors(form)
    model = auth.get_user_model()
    user = model._default_manager.create_user(
        username=form.cleaned_data["username"],
        email=form.cleaned_data["email"],
        password=form.cleaned_data["password"],
    )
    start_session(request, user)
    return user


def sign_in(request: HttpRequest, data: dict[str, Any]) -> AbstractBaseUser:
    """Check the rate limit, then the credentials, then sign in.

    Unknown user, wrong password and inactive user all raise the same InvalidCredentials
    after running the hasher once; over the limit RateLimited is raised and the password
    is not checked at all.
    """
    form = LoginForm(data)
    if not form.is_valid():
        raise form_errors(form)  # malformed: does not count as an attempt
    username, password = form.cleaned_data["username"], form.cleaned_data["password"]
    ratelimit.check_login_allowed(request, username)
    user = auth.authenticate(request, username=username, password=password)
    if user is None:
        ratelimit.record_failure(request, username)
        raise InvalidCredentials()
    start_session(request, user)
    return user


def start_session(request: HttpRequest, user: AbstractBaseUser) -> None:
    """Log in (a new session key; the old one dies), then apply the per-user limit."""
    auth.login(request, user, backend=BACKEND)
    # Saved now, not at the end of the response, so the session is in the user's index
    # before the limit is applied, and racing logins see each other.
    request.session.save()
    sessions.enforce_session_limit(user.pk, keep=request.session)


def sign_out(request: HttpRequest) -> None:
    """End the session: deleted from the store and the index; the cookie is cleared."""
    auth.logout(request)


def change_password(request: HttpRequest, data: dict[str, Any]) -> int:
    """Change the password (the old one is required); end every other session.

    The current session stays signed in under a new key. Returns how many other
    sessions ended.
    """
    form = PasswordChangeForm(request.user, data)
    if not form.is_valid():
        fields = dict(form.errors)
        # API names: new_password1/2 are one field, new_password, there.
        for django_name in ("new_password1", "new_password2"):
            if django_name in fields:
                fields.setdefault("new_password", fields.pop(django_name))
        raise ValidationFailed(
            fields={name: [str(m) for m in messages] for name, messages in fields.items()}
        )
    user = form.save()
    auth.update_session_auth_hash(request, user)  # cycles the key, keeps this session
    request.session.save()
    return sessions.revoke_user_sessions(user.pk, keep=request.session)
