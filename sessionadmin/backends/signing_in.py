"""What a session's write carries when it may sign a user in (WRITE, store/lua/write.lua):
the device label of the sign-in's event, and the user's session cap, applied in the
same atomic step (store/lua/cap.lua) rather than by a script of its own.

A write signs in when it puts in the session a user it did not hold, whoever set it:
Django's ``login()`` on a request (auth/receivers.py then does the rest), or code with no
request, such as Channels' ``login(scope, user)`` (it sends ``user_logged_in`` with
``request=None`` before the consumer saves the session) or a session built by hand. Every
such write applies the user's cap; one with no request also sends ``session_started``
(``_after_write``). On a request the receiver of login()'s signal sends it, even when
another receiver saved the session first, or the response step does (``report_sign_in``)
for a user put in the session by hand."""

from __future__ import annotations

from typing import Any

from sessionadmin import events
from sessionadmin.auth.users import pk_from_key
from sessionadmin.conf import get_settings
from sessionadmin.devices import device_label
from sessionadmin.index.actions import enforce_limit
from sessionadmin.store.client import ScriptCall
from sessionadmin.store.codec import NO_CLIENT, ClientInfo, SessionMeta


class SigningIn:
    """Mixed into the SessionStore: its sign-in's part of a write."""

    meta: SessionMeta | None
    client: ClientInfo
    kind: str
    restart_login: bool  # set on a sign-in: the next write starts a new login
    capped = False  # the last write applied the user's session cap (a browser's sign-in)
    # A script call sent ahead of the next write, in its round trip (a sign-in's refund:
    # auth/receivers.py).
    ahead_of_write: ScriptCall | None = None
    _cap_sent = 0  # the cap the last write was asked to apply
    # The last write's sign-in: (user id, the cap due, whether another reports it), or None.
    _signing_in: tuple[str, int, bool] | None = None
    _writing_user = ""  # the user the write under way stores ('' none)
    _written_user: str | None = None  # the user the last write stored, once one has

    def _signs_in(self, user_id: str) -> bool:
        if not user_id:
            return False
        if self.restart_login:
            return True
        held = self._written_user
        if held is None:
            held = self.meta.user_id if self.meta is not None else ""
        return held != user_id

    def _sign_in_device(self, user_id: str) -> str:
        # The device label goes with a sign-in's event: only a write that may sign in
        # needs it (a cached parse, but no work at all for the other writes).
        return device_label(self.client.user_agent) if self._signs_in(user_id) else ""

    def _sign_in_cap(self, user_id: str, *, carrying: bool) -> int:
        # A browser's sign-in applies its user's cap as it writes. Not a session carried
        # over from another shard: that move can still fail after this write (take.lua),
        # and a sign-in that fails must end none of the user's sessions; it is applied
        # once the move is done (_after_write). A token's cap is applied by tokens.py.
        signs_in, self._writing_user = self._signs_in(user_id), user_id
        due = get_settings().max_per_user if signs_in and self.kind == "browser" else 0
        reported = self.restart_login or self.client is not NO_CLIENT  # (module docstring)
        self._signing_in = (user_id, due, reported) if signs_in else None
        self._cap_sent = 0 if carrying else due
        return self._cap_sent

    def _after_write(self, started: bool) -> None:
        # After a write of the session's data, once it can no longer fail: for a sign-in
        # with no request, ``session_started`` (sent first: the cap's round trip may
        # fail); then the cap the write could not apply.
        signing_in, self._signing_in = self._signing_in, None
        self._written_user = self._writing_user
        if signing_in is None:
            return
        user_id, due, reported = signing_in
        if not reported:
            # Counted as a sign-in by the receiver of user_logged_in, if one was sent.
            events.signed_in(None, self.session_id, _pk(user_id), new=started, count=False)
            self.started_sign_in = False
        if due > 0 and not self._cap_sent:
            enforce_limit(user_id, due, self.session_id)
            self.capped = True

    def report_sign_in(self, request: Any) -> None:
        """At a request's response: a sign-in a write of the request began that no
        login() reported (a user put in the session by hand), reported as login()'s is."""
        if self.started_sign_in and self._written_user:
            self.started_sign_in = False
            events.signed_in(request, self.session_id, _pk(self._written_user))


def _pk(user_id: str) -> Any:
    # The user's primary key as the model's type, as session_started gives it for login().
    pk = pk_from_key(user_id)
    return user_id if pk is None else pk
