"""A password change, through any path, ends the user's other sessions at once.

The site's own view ends them itself (``services.end_other_sessions_after_password_change``).
Django's ``PasswordChangeView``, the admin's password forms, ``set_password()`` in a shell
and ``manage.py changepassword`` did not: those sessions were refused at their next
request (their auth hash no longer matches), but until then they stayed listed, counted
against the per-user limit, and no ``session_ended`` was sent. Here every save of a user
whose password was set (``AbstractBaseUser._password``) ends them once committed:

- in a request, when its response goes out, so that the request's own session, which
  ``update_session_auth_hash()`` gave the new hash (under a new key), is the one kept;
- outside a request (a shell, a command), right after the commit: every session ends.
"""

from __future__ import annotations

import logging
import weakref
from contextvars import ContextVar
from functools import partial
from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from sessionadmin import services
from sessionadmin.auth.users import user_key
from sessionadmin.exceptions import SessionStoreUnavailable

logger = logging.getLogger("sessionadmin")
_OPEN = "_sessionadmin_open"  # on a request until its response goes out
_CHANGED = "_sessionadmin_password_changes"  # the users whose password it changed
_SET = "_sessionadmin_passwords_set"  # their keys, as saved (committed or not yet)

# The current request, weakly: a request that is gone (one whose response never came
# through SessionMiddleware, as when a test calls process_request() alone) leaves nothing
# that would swallow a later change made outside any request.
_current: ContextVar[weakref.ref[HttpRequest] | None] = ContextVar(
    "sessionadmin_password_changes", default=None
)


def begin(request: HttpRequest) -> None:
    """A request starts (SessionMiddleware): its password changes wait for its response."""
    request.__dict__[_OPEN] = True
    # Set, never reset with a token: under ASGI, process_request() and process_response()
    # run in two different copies of the context (asgiref's sync_to_async).
    _current.set(weakref.ref(request))


def finish(request: HttpRequest) -> frozenset[str]:
    """The response goes out: end the other sessions of each user whose password changed
    (committed) in the request. Return the keys (``users.user_key``) of the users whose
    password the request saved, committed or not yet: their old password was right."""
    # The request stays in _current (set anew by the next begin()): once _OPEN is gone,
    # _open_request() no longer gives it, and a ContextVar.set() costs every request.
    request.__dict__.pop(_OPEN, None)
    saved = request.__dict__.pop(_SET, frozenset())
    changed = request.__dict__.pop(_CHANGED, None)
    if not changed:
        return saved  # (nearly every request: nothing read, nothing sent)
    session = getattr(request, "session", None)
    signed_in = _signed_in(session)
    for key, user in {user_key(u.pk): u for u in changed}.items():
        _end_others(user, session if signed_in == key else None)
    return saved


def _signed_in(session: Any) -> str | None:
    """The stored id of the user the request's session is signed in as, if any (from what
    the request loaded: a session it never read is nobody's here)."""
    loaded = getattr(session, "_session_cache", None)
    try:
        value = loaded.get(SESSION_KEY) if isinstance(loaded, dict) else None
        return user_key(value) if value is not None else None
    except (ValidationError, ValueError, TypeError):
        return None


def after_save(instance: AbstractBaseUser, using: str | None) -> None:
    """post_save of a user: if its password was set, end its other sessions once committed."""
    if getattr(instance, "_password", None) is None:
        return  # (AbstractBaseUser.save() clears it after this signal)
    request = _open_request()
    session = None
    if request is not None:
        request.__dict__[_SET] = request.__dict__.get(_SET, frozenset()) | {user_key(instance.pk)}
        session = getattr(request, "session", None)
    transaction.on_commit(partial(_committed, instance, session), using=using)


def _open_request() -> HttpRequest | None:
    """The request under way in this context, if its response has not gone out yet."""
    ref = _current.get()
    request = ref() if ref is not None else None
    return request if request is not None and request.__dict__.get(_OPEN) else None


def _committed(user: AbstractBaseUser, session: Any) -> None:
    request = _open_request()
    if request is not None:
        request.__dict__.setdefault(_CHANGED, []).append(user)
        return
    # Outside a request; or committed after its response step (a project's atomic()
    # around the whole request): the session of the request that made the change is
    # still the one kept, if it is the user's (under its key now: it moved to the new
    # hash). A shell's change ends every session.
    mine = session is not None and _signed_in(session) == user_key(user.pk)
    _end_others(user, session if mine else None)


def _end_others(user: AbstractBaseUser, keep: Any) -> None:
    try:
        services.end_other_sessions_after_password_change(user, keep)
    except SessionStoreUnavailable:
        # Still refused at their next request: their auth hash no longer matches.
        logger.error("could not end the other sessions of user %s: Redis is unavailable", user.pk)
