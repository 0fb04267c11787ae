"""Sign in with a username or an email address."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from sessionadmin import services as sessions


class UsernameOrEmailBackend(ModelBackend):
    """Django's ModelBackend, looking the user up by username, then by email (any case)."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ):
        if not username or password is None:
            return None
        user = _first(request, "username", username) or _first(request, "email", username)
        if user is None:
            # Run the hasher anyway so an unknown name takes as long as a wrong password
            # (Django's ModelBackend does the same; see its ticket #20760).
            get_user_model()().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


def _first(request: HttpRequest | None, field: str, name: str):
    """The first user (by primary key) whose ``field`` is ``name`` in any case: as the
    login limit just read it for this sign-in, else from the database."""
    found = sessions.login_lookup(request, field, name)
    if found is None:
        return get_user_model()._default_manager.filter(**{f"{field}__iexact": name}).first()
    return found[0] if found else None
