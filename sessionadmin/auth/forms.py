"""A password change form whose old-password check falls under the login limit."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest

from sessionadmin.auth import limits


class LimitedPasswordChangeForm(PasswordChangeForm):
    """Django's PasswordChangeForm, with the old password checked under the login limit.

    ``check_password()`` goes through no authentication backend, so the form counts the
    attempt itself, like a sign-in: per account, and per client IP when it is given the
    ``request`` (``LimitedPasswordChangeForm(request.user, data, request=request)``; a
    view of Django's passes it from ``get_form_kwargs()``). Over the limit the old password
    is not checked; ``limited`` then holds the refusal (with ``retry_after``).
    """

    limited: limits.LoginLimited | None = None
    counts_old_password = True  # the middleware does not count it again (limits.py)

    def __init__(self, user: Any, *args: Any, request: HttpRequest | None = None, **kwargs: Any):
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self) -> str:
        old_password = self.cleaned_data["old_password"]
        try:
            correct = limits.check_password(self.user, old_password, self.request)
        except limits.LoginLimited as refused:
            self.limited = refused
            raise forms.ValidationError(refused.message, code="rate_limited") from refused
        if not correct:
            raise forms.ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old_password
