"""What sign-ins and changes of users do to sessions, on every path.

Connected in ``SessionAdminConfig.ready()`` to Django's own signals, so they hold whatever
view called ``login()`` and whatever code saved the user:

- ``user_logged_in``: the sign-in's attempt is taken back, the per-user session limit
  is applied (by the atomic script that writes the sign-in, cap.lua; racing logins
  cannot leave more than the limit), and ``session_started`` is sent;
- ``user_login_failed``: a ``login_failed`` (or ``rate_limited``) event is logged;
- a user saved or deleted: cached copies are invalidated; a user made inactive or deleted
  loses every session once the transaction commits (a rolled-back change ends none).

Model signals are matched against the user model and its proxies, not one sender class.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest

from sessionadmin import events, metrics
from sessionadmin.auth import limits, password_changes, trusted, usercache
from sessionadmin.auth.users import user_key
from sessionadmin.backends.redis import SessionStore
from sessionadmin.conf import get_settings
from sessionadmin.devices import device_label
from sessionadmin.exceptions import BearerSignInRefused, SessionStoreUnavailable
from sessionadmin.index.actions import enforce_limit, revoke_user
from sessionadmin.request import client_ip, user_agent
from sessionadmin.store.client import ScriptCall, run_script

logger = logging.getLogger("sessionadmin")


def is_user_model(sender: Any) -> bool:
    """Return whether a model signal's sender is the user model or one of its proxies."""
    return isinstance(sender, type) and issubclass(sender, get_user_model())


def on_login(request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any) -> None:
    _refuse_bearer(request)
    # The attempt is taken back and the browser trusted for the account in one step,
    # sent in the round trip that writes the session when there is one.
    device = None if request is None else trusted.to_remember(request, limits.user_bucket(user))
    refund = limits.refund_call(request, trust=device)
    session = getattr(request, "session", None)
    if not isinstance(session, SessionStore):
        # No request (Channels' login(scope, user)): the session's save applies the cap
        # and sends session_started (backends/signing_in.py); the sign-in counts here.
        metrics.LOGINS.inc()
        _send(refund)
        _trust(request, device)
        return
    # A new sign-in starts a new absolute deadline, even for the user already signed in.
    session.restart_login = True
    # Saved now, not at the end of the response, so the new session is in the user's
    # index before the limit is applied, and racing logins see each other.
    session.ahead_of_write = refund
    try:
        session.save()
    finally:
        # Not sent if the save wrote nothing (it failed before its round trip).
        _send(session.ahead_of_write)
        session.ahead_of_write = None
    _trust(request, device)
    limit = get_settings().max_per_user
    # The save applied it (backends/signing_in.py); this is for a save that stored no
    # sign-in (a view that sent user_logged_in without putting the user in the session).
    if limit > 0 and not session.capped:
        enforce_limit(user_key(user.pk), limit, session.session_id)
    events.signed_in(request, session.session_id, user.pk, new=session.started_sign_in)
    session.started_sign_in = False  # reported


def on_logout(request: HttpRequest | None, **kwargs: Any) -> None:
    _refuse_bearer(request)  # sent before logout() flushes the session


def _refuse_bearer(request: HttpRequest | None) -> None:
    session = getattr(request, "session", None)
    if isinstance(session, SessionStore) and session.bearer:
        session._forget_local()  # what login() set is never saved: the token stays as is
        session.flushed_key = None  # nor is it ended by login()'s flush()
        raise BearerSignInRefused()


def _send(call: ScriptCall | None) -> None:
    if call is not None:
        run_script(*call)


def _trust(request: HttpRequest | None, device: trusted.Device | None) -> None:
    # The device's cookie goes out once its record is stored (with the refund).
    if request is not None and device is not None:
        trusted.issue(request, device)


def on_login_failed(credentials: dict, request: HttpRequest | None = None, **kwargs: Any):
    limits.failed(request)  # counted for good (a right password is taken back: settle)
    refused = limits.refusal(request) if request is not None else None
    (metrics.RATE_LIMITED if refused else metrics.LOGIN_FAILURES).inc()
    ip = client_ip(request) if request is not None else ""
    agent = user_agent(request) if request is not None else ""
    try:
        # Refusals cost an attacker nothing: one entry per client network a minute, or
        # a flood of them would push the real events out of the capped log.
        if refused and not limits.first_refusal_this_minute(request):
            return
        events.record(
            "rate_limited" if refused else "login_failed",
            user_id=limits.attempted_user(request),
            ip=ip,
            device=device_label(agent) if agent else "",
        )
    except SessionStoreUnavailable:
        logger.error("could not log a failed sign-in: Redis is unavailable")


def before_user_change(sender: Any, instance: AbstractBaseUser, **kwargs: Any) -> None:
    if is_user_model(sender):
        usercache.before_user_save(instance, **kwargs)


def after_user_save(sender: Any, instance: AbstractBaseUser, created: bool, **kwargs: Any):
    if not is_user_model(sender):
        return
    usercache.after_user_change(instance, **kwargs)
    if not created:
        password_changes.after_save(instance, kwargs.get("using"))
    if not created and not getattr(instance, "is_active", True):
        _end_sessions_after_commit(instance.pk, kwargs.get("using"))


def after_user_delete(sender: Any, instance: AbstractBaseUser, **kwargs: Any) -> None:
    if is_user_model(sender):
        usercache.after_user_change(instance, **kwargs)
        _end_sessions_after_commit(instance.pk, kwargs.get("using"))


def _end_sessions_after_commit(pk: Any, using: str | None) -> None:
    key = user_key(pk)

    def end() -> None:
        try:
            revoke_user(key, why="user_deactivated")
        except SessionStoreUnavailable:
            logger.error("could not end the sessions of user %s: Redis is unavailable", key)

    transaction.on_commit(end, using=using)
