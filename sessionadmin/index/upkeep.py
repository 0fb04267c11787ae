"""Keeping the index small: entries of ended sessions removed in bounded batches."""

from __future__ import annotations

from sessionadmin.conf import get_settings
from sessionadmin.index.actions import forget
from sessionadmin.index.records import active_since
from sessionadmin.store import keys
from sessionadmin.store.client import now_ms, redis_client, redis_errors

PRUNE_BATCH = 500


def prune() -> int:
    """Remove index entries of ended sessions; return how many session entries went.

    Entries older than the idle timeout plus a grace period go by score; the rest are
    checked against their hash in batches, so no single command blocks Redis for long.
    """
    conf = get_settings()
    client = redis_client()
    cutoff = now_ms() - (conf.idle_timeout + conf.index_grace) * 1000
    removed = 0
    with redis_errors():
        removed += client.zremrangebyscore(keys.all_index(), "-inf", cutoff)
        client.zremrangebyscore(keys.auth_index(), "-inf", cutoff)
        client.zremrangebyscore(keys.users_index(), "-inf", cutoff)
        # Entries of the last idle period whose hash is gone are kept: they tell a late
        # request which timeout ended its session (backends.redis.reason_from_score).
        since = active_since()
        start = 0
        while True:
            ids = client.zrangebyscore(keys.all_index(), "-inf", since, start, PRUNE_BATCH)
            if not ids:
                break
            dropped = forget([i.decode() for i in ids])
            removed += dropped
            start += len(ids) - dropped
    return removed
