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
from contextvars import ContextVar, Token
from functools import partial
from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest

from sessionadmin import services
from sessionadmin.auth.users import user_key
from sessionadmin.exceptions import SessionStoreUnavailable

logger = logging.getLogger("sessionadmin")
# The users whose password changed during the current request; None outside one.
_changed: ContextVar[list[AbstractBaseUser] | None] = ContextVar(
    "sessionadmin_password_changes", default=None
)
_RESET = "_sessionadmin_password_changes"


def begin(request: HttpRequest) -> None:
    """A request starts (SessionMiddleware): its password changes wait for its response."""
    setattr(request, _RESET, _changed.set([]))


def finish(request: HttpRequest) -> None:
    """The response goes out: end the other sessions of each user whose password changed."""
    token: Token | None = getattr(request, _RESET, None)
    if token is None:
        return
    delattr(request, _RESET)
    changed = _changed.get() or []
    _changed.reset(token)
    session = getattr(request, "session", None)
    for user in {user_key(u.pk): u for u in changed}.values():
        own = session is not None and str(session.get(SESSION_KEY, "")) == user_key(user.pk)
        _end_others(user, session if own else None)


def after_save(instance: AbstractBaseUser, using: str | None) -> None:
    """post_save of a user: if its password was set, end its other sessions once committed."""
    if getattr(instance, "_password", None) is None:
        return  # (AbstractBaseUser.save() clears it after this signal)
    transaction.on_commit(partial(_committed, instance), using=using)


def _committed(user: AbstractBaseUser) -> None:
    pending = _changed.get()
    if pending is not None:
        pending.append(user)
    else:
        _end_others(user, None)


def _end_others(user: AbstractBaseUser, keep: Any) -> None:
    try:
        services.end_other_sessions_after_password_change(user, keep)
    except SessionStoreUnavailable:
        # Still refused at their next request: their auth hash no longer matches.
        logger.error("could not end the other sessions of user %s: Redis is unavailable", user.pk)
