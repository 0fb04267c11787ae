"""What a session's write carries when it may sign a user in (WRITE, store/lua/write.lua):
the device label of the sign-in's event, and the user's session cap, applied in the
same atomic step (store/lua/cap.lua) rather than by a script of its own."""

from __future__ import annotations

from sessionadmin.conf import get_settings
from sessionadmin.devices import device_label
from sessionadmin.store.client import ScriptCall
from sessionadmin.store.codec import ClientInfo, SessionMeta


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

    def _sign_in_device(self, user_id: str) -> str:
        # The device label goes with a sign-in's event: only a write that may sign in
        # needs it (a cached parse, but no work at all for the other writes).
        meta = self.meta
        new = self.restart_login or meta is None or meta.user_id != user_id
        return device_label(self.client.user_agent) if user_id and new else ""

    def _sign_in_cap(self, user_id: str, *, carrying: bool) -> int:
        # A browser's sign-in applies its user's cap as it writes. Not a session carried
        # over from another shard: that move can still fail after this write (take.lua),
        # and a sign-in that fails must end none of the user's sessions. A token's cap,
        # and any the write did not apply, are applied after it (tokens.py, receivers.py).
        wanted = self.restart_login and user_id and self.kind == "browser" and not carrying
        self._cap_sent = get_settings().max_per_user if wanted else 0
        return self._cap_sent
