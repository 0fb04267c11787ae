"""The authentication backend that puts every password check under the login limit.

Put it first in ``AUTHENTICATION_BACKENDS``. ``django.contrib.auth.authenticate()`` asks
each backend in turn, so this one sees every attempt made through it (the admin's login,
the project's own views, any third-party view) before a backend hashes the password, as
django-axes' ``AxesBackend`` does. It never signs anyone in itself.
"""

from __future__ import annotations

import inspect
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from sessionadmin.auth import limits
from sessionadmin.conf import get_settings


def login_name(credentials: dict[str, Any]) -> str:
    """Return the name an attempt signs in with, whichever keyword carries it."""
    model = get_user_model()
    # A backend of another kind (a phone number): its credential names a user field the
    # project lists in SESSIONADMIN_LOGIN_FIELDS, where the account is then looked up, so
    # each account has a count of its own and every spelling of it the same one. Other
    # text is never taken as the name: a field sent in many spellings, or beside the name
    # (a one-time code), would make a new count for each guess.
    keys = ("username", model.USERNAME_FIELD, model.get_email_field_name())
    for key in (*keys, *get_settings().login_fields):
        value = credentials.get(key)
        if isinstance(value, str):
            return value
    return ""


class LoginLimitBackend:
    """Count a password attempt before any backend checks it; refuse it over the limit.

    Deliberately not a BaseBackend: without ``get_user`` it is never the backend a
    session is signed in with (``Client.force_login()`` takes the first one that has
    it), and without ``has_perm`` it is skipped by permission checks.
    """

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> None:
        if credentials.get("password") is None:
            return None  # no password is checked (a remote user, a token...): not ours
        account = limits.account_bucket(login_name(credentials), request)
        # A browser trusted for this account is judged on its own budget (trusted.py);
        # anything else raises LoginLimited over the limit, a PermissionDenied:
        # authenticate() then stops, checks no password and sends user_login_failed.
        limits.count_attempt(request, [account], account=account)
        return None

    async def aauthenticate(self, request: HttpRequest | None, **credentials: Any) -> None:
        # django.contrib.auth.aauthenticate() calls this on every backend.
        return await sync_to_async(self.authenticate)(request, **credentials)


# django.contrib.auth's authenticate() and aauthenticate() take each backend's
# ``authenticate`` signature on every sign-in, to see whether it accepts the credentials:
# this one's never changes, so it is taken once (inspect.signature() returns a function's
# ``__signature__`` when it has one; a subclass's own ``authenticate`` has none).
LoginLimitBackend.authenticate.__signature__ = inspect.signature(  # type: ignore[attr-defined]
    LoginLimitBackend.authenticate
)


class LimitedModelBackend(ModelBackend):
    """Django's ModelBackend, each password check counted under the login limit first.

    The one backend a project with Django's own needs: with two in
    ``AUTHENTICATION_BACKENDS`` (``LoginLimitBackend`` and ``ModelBackend``), a
    ``login(request, user)`` without ``backend=`` (a sign-up view,
    ``PasswordResetConfirmView(post_reset_login=True)``) raises ValueError, as Django
    cannot tell which backend signed the user in. Other backends (LDAP, a custom one): put
    ``LoginLimitBackend`` first instead.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None,
        password: str | None = None, **kwargs: Any,
    ) -> Any:  # fmt: skip
        _LIMIT.authenticate(request, username=username, password=password, **kwargs)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        return _judged(request, user)

    async def aauthenticate(
        self, request: HttpRequest | None, username: str | None = None,
        password: str | None = None, **kwargs: Any,
    ) -> Any:  # fmt: skip
        # ModelBackend's own async check, after the count (which raises over the limit).
        await _LIMIT.aauthenticate(request, username=username, password=password, **kwargs)
        user = await super().aauthenticate(request, username=username, password=password, **kwargs)
        return _judged(request, user)


_LIMIT = LoginLimitBackend()


def _judged(request: HttpRequest | None, user: Any) -> Any:
    # This backend knows how its check went: a wrong password stays counted whatever
    # happens next (a later backend that raises), a right one is taken back (limits.settle).
    if user is None:
        limits.failed(request)
    else:
        limits.right(request)
    return user
