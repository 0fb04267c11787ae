"""Exceptions of sessionadmin; API errors carry their HTTP meaning (see sessionadmin.errors)."""

from __future__ import annotations

from django.core.exceptions import SuspiciousOperation


class SessionStoreUnavailable(Exception):
    """The session store (Redis) did not answer; requests that need it get 503."""


class BearerSignInRefused(SuspiciousOperation):
    """login() or logout() on a request that carries a bearer token: its session is the
    token's. A sign-in there would make a session nobody holds (a bearer answer never
    sets a cookie) and count it against the user's limit; a sign-out would end the token
    from a page. A SuspiciousOperation: Django answers 400 on any view (handler400)."""

    def __init__(self) -> None:
        super().__init__("A bearer token cannot sign in or out; end a token with its own API.")
