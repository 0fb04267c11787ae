"""The async methods of the session store: its Redis client is synchronous, so each runs
its sync twin in a thread (as Django's own cache engine does through the cache)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async


class SyncTwins:
    """Mixed into the SessionStore ahead of Django's base, whose async methods it replaces."""

    load: Any
    create: Any
    _get_new_session_key: Any
    exists: Any
    save: Any
    cycle_key: Any
    flush: Any
    delete: Any
    clear_expired: Any

    async def aload(self) -> dict[str, Any]:
        return await sync_to_async(self.load)()

    async def aexists(self, session_key: str | None) -> bool:
        return await sync_to_async(self.exists)(session_key)

    async def asave(self, must_create: bool = False) -> None:
        await sync_to_async(self.save)(must_create)

    async def acycle_key(self) -> None:
        await sync_to_async(self.cycle_key)()

    async def aflush(self) -> None:
        # Django's aflush() is its own copy of flush(), so the store's flush() (a bearer
        # request's token kept until the response) would not run for alogin()/alogout().
        await sync_to_async(self.flush)()

    async def adelete(self, session_key: str | None = None) -> None:
        await sync_to_async(self.delete)(session_key)

    @classmethod
    async def aclear_expired(cls) -> None:
        await sync_to_async(cls.clear_expired)()

    async def acreate(self) -> None:
        await sync_to_async(self.create)()

    async def _aget_new_session_key(self) -> str:
        # The store's own draw (the user's shard, no exists() round trip), not Django's.
        return self._get_new_session_key()
