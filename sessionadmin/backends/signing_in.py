"""What a session's write carries when it may sign a user in (WRITE, store/lua/write.lua):
the device label of the sign-in's event, and the user's session cap, applied in the
same atomic step (store/lua/cap.lua) rather than by a script of its own."""

from __future__ import annotations

from sessionadmin.conf import get_settings
from sessionadmin.devices import device_label
from sessionadmin.store.codec import ClientInfo, SessionMeta


class SigningIn:
    """Mixed into the SessionStore: its sign-in's part of a write."""

    meta: SessionMeta | None
    client: ClientInfo
    kind: str
    restart_login: bool  # set on a sign-in: the next write starts a new login
    capped = False  # the last write applied the user's session cap (a browser's sign-in)

    def _sign_in_device(self, user_id: str) -> str:
        # The device label goes with a sign-in's event: only a write that may sign in
        # needs it (a cached parse, but no work at all for the other writes).
        meta = self.meta
        new = self.restart_login or meta is None or meta.user_id != user_id
        return device_label(self.client.user_agent) if user_id and new else ""

    def _sign_in_cap(self, user_id: str) -> int:
        # A browser's sign-in applies its user's cap as it writes; a token's is applied
        # on its own (tokens.py), as is any sign-in's the write did not cap (receivers.py).
        cap = get_settings().max_per_user if self.restart_login and user_id else 0
        self.capped = cap > 0 and self.kind == "browser"
        return cap if self.capped else 0
