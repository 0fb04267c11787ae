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
from dataclasses import dataclass, field
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
_PENDING = "_sessionadmin_password_changes"


@dataclass
class _Pending:
    """The users whose password changed during one request, until its response."""

    users: list[AbstractBaseUser] = field(default_factory=list)
    open: bool = True


# The current request's _Pending, weakly: a request that is gone (one whose response never
# came through SessionMiddleware, as when a test calls process_request() alone) leaves
# nothing that would swallow a later change made outside any request.
_current: ContextVar[weakref.ref[_Pending] | None] = ContextVar(
    "sessionadmin_password_changes", default=None
)


def begin(request: HttpRequest) -> None:
    """A request starts (SessionMiddleware): its password changes wait for its response."""
    pending = _Pending()
    setattr(request, _PENDING, pending)
    # Set, never reset with a token: under ASGI, process_request() and process_response()
    # run in two different copies of the context (asgiref's sync_to_async).
    _current.set(weakref.ref(pending))


def finish(request: HttpRequest) -> None:
    """The response goes out: end the other sessions of each user whose password changed."""
    pending: _Pending | None = request.__dict__.pop(_PENDING, None)
    _current.set(None)
    if pending is None:
        return
    pending.open = False
    session = getattr(request, "session", None)
    signed_in = _signed_in(session)
    for user in {user_key(u.pk): u for u in pending.users}.values():
        _end_others(user, session if signed_in == user_key(user.pk) else None)


def _signed_in(session: Any) -> str | None:
    """The stored id of the user the request's session is signed in as, if any."""
    try:
        value = session.get(SESSION_KEY) if session is not None else None
        return user_key(value) if value is not None else None
    except (ValidationError, ValueError, TypeError):
        return None


def after_save(instance: AbstractBaseUser, using: str | None) -> None:
    """post_save of a user: if its password was set, end its other sessions once committed."""
    if getattr(instance, "_password", None) is None:
        return  # (AbstractBaseUser.save() clears it after this signal)
    transaction.on_commit(partial(_committed, instance), using=using)


def _committed(user: AbstractBaseUser) -> None:
    ref = _current.get()
    pending = ref() if ref is not None else None
    if pending is not None and pending.open:
        pending.users.append(user)
    else:
        _end_others(user, None)


def _end_others(user: AbstractBaseUser, keep: Any) -> None:
    try:
        services.end_other_sessions_after_password_change(user, keep)
    except SessionStoreUnavailable:
        # Still refused at their next request: their auth hash no longer matches.
        logger.error("could not end the other sessions of user %s: Redis is unavailable", user.pk)
