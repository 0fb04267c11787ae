"""Signals of signed-in sessions, for a project's own receivers (audit, alerts, analytics).

- ``session_started(request, session_id, user)``: a user signed in (any login path, or a
  token was issued). ``session_id`` is the session's public id after the sign-in.
- ``session_ended(session_id, user, reason)``: a signed-in session ended. ``reason`` is
  one of ``ENDED_REASONS``; ``by`` says who revoked one (``staff``, ``user``,
  ``command``, ``suspicious``; "" otherwise).

``user`` is the user's primary key in both (``request.user`` is the user itself on
``session_started``): endings are often found in bulk, or by a request of somebody else
(the index trim), where loading every user would cost a query each. The sender is None.
``request`` is None for a sign-in made with no request: Channels' ``login(scope, user)``
then the consumer's save, or a session built with a user in it.

Each ending is sent once, by the process that ended or found it: a timed-out session on
the request that finds it, or on the write whose trim finds it, with no cron. Receivers
run inside that request; an exception in one is logged, never raised into it.
"""

from __future__ import annotations

from django.dispatch import Signal

ENDED_REASONS = (
    "logout",
    "idle",
    "absolute",
    "revoked",
    "evicted",
    "password_changed",
    "user_deactivated",
)

session_started = Signal()
session_ended = Signal()
