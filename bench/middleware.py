"""Middleware of bench/overhead.py's servers (``bench.settings``), never of the project.

- ``QueryCount`` (first, in every configuration): answers each request with the number of
  database queries it made, in ``X-Queries``, counted by Django's own execute wrapper.
- ``NoSessionLayer`` (configuration ``none``, the baseline): the request is signed in as
  the benchmark's user (when it sends a session cookie, whatever its value; else it is
  anonymous) with no session layer at all. The user is read once per process;
  ``request.session`` is a session of this request only, holding that user's sign-in and
  the same 3-line cart as the other configurations' sessions, and stored nowhere. The
  views then do the same work as under a session layer, so the difference in time per
  request is the session layer's.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.db import connection

USERNAME = os.environ.get("BENCH_USERNAME", "alice")


class QueryCount:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        count = 0

        def counted(execute, sql, params, many, context):
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counted):
            response = self.get_response(request)
        response["X-Queries"] = str(count)
        return response


class RequestOnlySession(SessionBase):
    """A session that starts with the benchmark user's sign-in and is never stored."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__("bench-none")
        self._data = data

    def load(self) -> dict[str, Any]:
        return dict(self._data)

    def exists(self, session_key: str) -> bool:
        return False

    def create(self) -> None:
        self._session_key = "bench-none"

    def save(self, must_create: bool = False) -> None:
        pass

    def delete(self, session_key: str | None = None) -> None:
        pass


class NoSessionLayer:
    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.user = None
        self.data: dict[str, Any] = {}

    def __call__(self, request):
        if self.user is None:
            from django.contrib.auth import get_user_model

            from cart.models import Product

            user = get_user_model().objects.get(username=USERNAME)
            user.backend = "accounts.backends.UsernameOrEmailBackend"
            cart = {str(pk): 1 for pk in Product.objects.values_list("pk", flat=True)[:3]}
            self.data = {
                SESSION_KEY: str(user.pk),
                BACKEND_SESSION_KEY: user.backend,
                HASH_SESSION_KEY: user.get_session_auth_hash(),
                "_items:cart": cart,  # where sessionadmin.items keeps it on this engine
            }
            self.user = user
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            request.session, request.user = RequestOnlySession(self.data), self.user
        else:  # a new visitor, as the login benchmark's
            request.session, request.user = RequestOnlySession({}), AnonymousUser()
        return self.get_response(request)
