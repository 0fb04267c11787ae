"""Token sessions for scripts and apps: opaque bearer tokens that *are* sessions.

A token is a session key shown once. It lives in the same store as every session (only
its keyed hash is kept), with its own idle and absolute timeouts and per-user limit, an
index entry, a row in every listing, and instant revocation: what a JWT cannot have, and
what DRF's tokens (no expiry, outside the session machinery) do not. A request carrying
``Authorization: Bearer <token>`` is that session (``middleware``): no cookie is read or
set, and no CSRF token is needed, as no browser sends the header by itself.
"""

from __future__ import annotations

import re

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest

from sessionadmin.auth import limits
from sessionadmin.auth.users import user_key
from sessionadmin.backends.redis import ClientInfo, SessionStore
from sessionadmin.conf import get_settings
from sessionadmin.events import signed_in
from sessionadmin.index.actions import enforce_limit
from sessionadmin.request import client_ip, user_agent
from sessionadmin.store.keys import TOKEN_PREFIX, draw_key, user_shard

# The prefix keeps a token from ever being taken for a cookie's session key, or back.
TOKEN = re.compile(r"^" + TOKEN_PREFIX + r"[A-Za-z0-9_-]{43}$")
BEARER = re.compile(r"^Bearer +(\S+) *$", re.IGNORECASE)
MAX_NAME = 40  # characters of a token's label ("CI runner", "Pixel 8")


class MalformedAuthorization(Exception):
    """An Authorization header that says Bearer but carries no well-formed token."""


def bearer_token(request: HttpRequest) -> str | None:
    """Return the request's bearer token; None when it sends none (a cookie request).

    Raise MalformedAuthorization for a Bearer header that is not one of our tokens; other
    schemes (a proxy's Basic credentials) are not ours and are ignored.
    """
    header = request.META.get("HTTP_AUTHORIZATION")
    if not header or not header[:7].lower().startswith("bearer"):
        return None
    match = BEARER.match(header)
    if match is None or not TOKEN.match(match.group(1)):
        raise MalformedAuthorization()
    return match.group(1)


def issue_token(request: HttpRequest, user: AbstractBaseUser, name: str) -> tuple[str, str]:
    """Make a token session for ``user`` (already authenticated); return (token, its id).

    The sign-in attempt it came from is taken back, as for a browser sign-in, and the
    user's tokens beyond ``SESSIONADMIN_TOKEN_MAX_PER_USER`` end (the oldest first).
    """
    limits.refund(request)
    store = SessionStore()
    store.kind, store.name = "token", name
    store.client = ClientInfo(client_ip(request), user_agent(request))
    store[SESSION_KEY] = user._meta.pk.value_to_string(user)
    store[BACKEND_SESSION_KEY] = user.backend
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    # In its user's shard, like every signed-in session (store/keys.py).
    token = draw_key(user_shard(store[SESSION_KEY]), TOKEN_PREFIX, length=43)
    store._session_key = token
    store.restart_login = True  # a sign-in this function reports itself (signed_in below)
    store.save(must_create=True)
    limit = get_settings().token_max_per_user
    if limit > 0:
        enforce_limit(user_key(user.pk), limit, store.session_id, kind="token")
    signed_in(request, store.session_id, user.pk)
    return token, store.session_id
