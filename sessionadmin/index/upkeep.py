"""Keeping the index small: entries of ended sessions removed by score.

Every write of a session already trims a few dead entries from the sets it touches
(store/lua/write.lua), so a steady site stays at its live size with no scheduled job;
``prune()`` (``clearsessions``, ``manage.py sessions prune``) clears what is left at once.
"""

from __future__ import annotations

from sessionadmin.conf import get_settings
from sessionadmin.events import script_status
from sessionadmin.store import keys
from sessionadmin.store.client import now_ms, redis_client, redis_errors, run_script

PRUNE_BATCH = 500


def prune() -> int:
    """Remove index entries of ended sessions; return how many session entries went.

    A session's score is its last write, and its TTL at most the idle timeout from then:
    an entry older than the idle timeout (plus a little clock slack) is dead. Signed-in
    ones are reported ended as they go (events.lua), in batches, so no call blocks Redis
    for long. Entries of signed-in sessions stay in ``auth`` for the grace period more,
    to tell a late request which timeout ended its session (store.codec.reason_from_score).
    """
    conf = get_settings()
    dead_before = now_ms() - (conf.idle_timeout + conf.clock_slack) * 1000
    removed, batch = 0, PRUNE_BATCH
    while batch == PRUNE_BATCH:
        args = [keys.prefix(), dead_before, PRUNE_BATCH, now_ms(), conf.idle_timeout * 1000]
        reply = run_script("PRUNE", [], args)
        batch = script_status(reply)
        removed += int(reply[2])
    sweep_sign_ins()
    with redis_errors():
        pipe = redis_client().pipeline(transaction=False)
        pipe.zremrangebyscore(keys.users_index(), "-inf", f"({dead_before}")
        pipe.zremrangebyscore(
            keys.auth_index(), "-inf", f"({dead_before - conf.index_grace * 1000}"
        )
        pipe.execute()
    return removed


def sweep_sign_ins() -> int:
    """Report sign-in records whose session is gone and no longer indexed; return how
    many. A safety net for records an older release's scripts left behind: walked with
    HSCAN in batches, by the prune command only, never on a request."""
    client = redis_client()
    found, cursor = 0, 0
    while True:
        with redis_errors():
            cursor, entries = client.hscan(keys.sign_ins(), cursor, count=PRUNE_BATCH)
        if entries:
            sids = [k.decode() if isinstance(k, bytes) else k for k in entries]
            found += script_status(run_script("SWEEP", [], [keys.prefix(), *sids]))
        if not cursor:
            return found
