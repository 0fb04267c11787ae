"""What the accounts views do: register, sign in and out, change the password.

Views (pages and API) call these and render the outcome; errors are ApiError exceptions
(ValidationFailed, InvalidCredentials, RateLimited) the API renders as is and the pages
turn into form errors. The guarantees themselves are sessionadmin's and hold on every
sign-in path, not only here: the login limit (its authentication backend), the per-user
session limit (its ``user_logged_in`` receiver), the end of a deactivated user's sessions.
"""

from __future__ import annotations

from typing import Any

from django.contrib import auth
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.forms import Form
from django.http import HttpRequest

from accounts.forms import USERNAME_TAKEN, LoginForm, PasswordChangeForm, RegisterForm, TokenForm
from sessionadmin import services as sessions
from sessionadmin import tokens
from sessionadmin.errors import ApiError, RateLimited, ValidationFailed

BACKEND = "accounts.backends.UsernameOrEmailBackend"


class InvalidCredentials(ApiError):
    status, code, message = 401, "INVALID_CREDENTIALS", "Wrong username or password."


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
    form = RegisterForm(_text_only(data, RegisterForm))
    if not form.is_valid():
        raise form_errors(form)
    model = auth.get_user_model()
    try:
        with transaction.atomic():
            user = model._default_manager.create_user(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
            )
    except IntegrityError as exc:
        # A registration racing this one took the name (or the address) between the
        # form's check and the insert: the database's unique indexes decide.
        raise ValidationFailed(fields={"username": [USERNAME_TAKEN]}) from exc
    auth.login(request, user, backend=BACKEND)
    return user


def sign_in(request: HttpRequest, data: dict[str, Any]) -> AbstractBaseUser:
    """Check the credentials (under sessionadmin's login limit), then sign in."""
    user = _authenticate(request, LoginForm(_text_only(data, LoginForm)))
    auth.login(request, user)
    return user


def issue_token(request: HttpRequest, data: dict[str, Any]) -> tuple[str, str]:
    """Check the credentials as sign_in does; return a new token and its session's id."""
    form = TokenForm(_text_only(data, TokenForm))
    user = _authenticate(request, form)
    return tokens.issue_token(request, user, form.cleaned_data["name"])


def _text_only(data: dict[str, Any], form: type[Form], *more: str) -> dict[str, Any]:
    """``data``, if each of the form's fields it holds is a string. A form's CharField
    takes str() of anything: a password sent as ["x"] would become the text "['x']"."""
    names = (*form.base_fields, *more)
    wrong = {n: ["Must be a string."] for n in names if n in data and type(data[n]) is not str}
    if wrong:
        raise ValidationFailed(fields=wrong)
    return data


def _authenticate(request: HttpRequest, form: LoginForm) -> AbstractBaseUser:
    """Return the user the form's credentials name, under the login limit.

    Unknown user, wrong password and inactive user all raise the same InvalidCredentials
    after running the hasher once; over the limit RateLimited is raised and the password
    is not checked at all; a malformed form is ValidationFailed and counts for nothing.
    """
    if not form.is_valid():
        raise form_errors(form)
    username, password = form.cleaned_data["username"], form.cleaned_data["password"]
    user = auth.authenticate(request, username=username, password=password)
    if user is None:
        refused = sessions.login_refusal(request)
        if refused is not None:
            raise RateLimited(retry_after=refused.retry_after)
        raise InvalidCredentials()
    return user


def sign_out(request: HttpRequest) -> None:
    """End the session: deleted from the store and the index; the cookie is cleared."""
    auth.logout(request)


def change_password(request: HttpRequest, data: dict[str, Any]) -> int:
    """Change the password from API data; see apply_password_change."""
    data = _text_only(data, PasswordChangeForm, "new_password")
    return apply_password_change(request, PasswordChangeForm(request.user, data, request=request))


def apply_password_change(request: HttpRequest, form: PasswordChangeForm) -> int:
    """Change the password (the old one is required, under the login limit).

    The current session stays signed in under a new key and every other session of the
    user ends; returns how many ended. Raises RateLimited or ValidationFailed, the form
    then holding its errors.
    """
    if not form.is_valid():
        if form.limited is not None:
            raise RateLimited(retry_after=form.limited.retry_after)
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
    return sessions.end_other_sessions_after_password_change(user, keep=request.session)
