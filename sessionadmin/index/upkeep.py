"""Keeping the index small: entries of ended sessions removed by score.

Every write of a session already trims a few dead entries from the sets it touches
(store/lua/write.lua), so a steady site stays at its live size with no scheduled job;
``prune()`` (``clearsessions``, ``manage.py sessions prune``) clears what is left at once.
"""

from __future__ import annotations

from typing import Any

from sessionadmin.conf import get_settings
from sessionadmin.events import script_status
from sessionadmin.store import keys
from sessionadmin.store.client import (
    now_ms,
    on_every_shard,
    redis_client,
    redis_errors,
    run_script,
    run_scripts,
)

PRUNE_BATCH = 500


def prune() -> int:
    """Clear index entries of ended sessions; return how many: guests' removed, signed-in
    ones' reported ended and turned into tombstones.

    A session's score is its last write, and its TTL at most the idle timeout from then:
    an entry older than the idle timeout (plus a little clock slack) is dead. Signed-in
    ones are reported ended as they go (events.lua), in batches, so no call blocks Redis
    for long, and stay in ``auth`` as tombstones for the grace period more, to tell a
    late request which timeout ended its session (store.codec.reason_from_score).
    """
    conf = get_settings()
    dead_before = now_ms() - (conf.idle_timeout + conf.clock_slack) * 1000
    removed = 0
    for shard in keys.shards():
        removed += _prune_shard(shard, dead_before, conf.idle_timeout * 1000)
        _prune_users(shard, dead_before)
    sweep_sign_ins()
    grace_before = dead_before - conf.index_grace * 1000

    def queue(pipe: Any, shard: int) -> None:
        # Tombstones past the grace period (every ended entry is one by now).
        pipe.zremrangebyscore(keys.auth_index(shard), "-inf", f"({grace_before - keys.TOMBSTONE}")
        pipe.unlink(keys.legacy_all_index(shard))  # an older release's index, if any

    on_every_shard(queue)
    return removed


def _prune_users(shard: int, dead_before: int) -> None:
    # The users with no session left, from each bucket of the shard's users index (a
    # quarter a call); then an older release's single index moved into the buckets, a
    # batch a call.
    tag, names, span = keys.prefix(shard), keys.shard_keys(shard), keys.USER_BUCKETS_A_CALL
    for lo in range(0, keys.USER_BUCKETS, span):
        run_script("USERS_PRUNE", names, [tag, dead_before, 0, lo, lo + span - 1])
    while run_script("USERS_PRUNE", names, [tag, dead_before, PRUNE_BATCH, 0, -1]) > 0:
        pass
    # Users' one-session entries whose session is gone, a bucket a call (one round trip).
    run_scripts([("SINGLES_SWEEP", names, [tag, n]) for n in range(keys.USER_BUCKETS)])


def _prune_shard(shard: int, dead_before: int, idle_ms: int) -> int:
    # Each call examines up to a batch of each activity set: a call that examines less
    # than one batch in all has reached the end of both.
    removed, examined = 0, PRUNE_BATCH
    while examined >= PRUNE_BATCH:
        args = [keys.prefix(shard), dead_before, PRUNE_BATCH, now_ms(), idle_ms]
        reply = run_script("PRUNE", keys.shard_keys(shard), args)
        examined = script_status(reply)
        removed += int(reply[2])
    return removed


def sweep_sign_ins() -> int:
    """Report sign-in records whose session is gone and no longer indexed; return how
    many. A safety net for records an older release's scripts left behind: walked with
    HSCAN in batches, by the prune command only, never on a request."""
    client = redis_client()
    found = 0
    for shard in keys.shards():
        names = [keys.sign_ins(shard), *keys.sign_in_buckets(shard)]
        with redis_errors():
            pipe = client.pipeline(transaction=False)
            for name in names:  # each bucket's first batch (most hold no more) at once
                pipe.hscan(name, 0, count=PRUNE_BATCH)
            firsts = pipe.execute()
        sids: list[str] = []
        for name, (cursor, entries) in zip(names, firsts, strict=True):
            while True:
                sids += [k.decode() if isinstance(k, bytes) else k for k in entries]
                if len(sids) >= PRUNE_BATCH:  # a script call per batch, not per bucket
                    found += _sweep(shard, sids)
                    sids = []
                if not cursor:
                    break
                with redis_errors():
                    cursor, entries = client.hscan(name, cursor, count=PRUNE_BATCH)
        found += _sweep(shard, sids)
    return found


def _sweep(shard: int, sids: list[str]) -> int:
    if not sids:
        return 0
    return script_status(run_script("SWEEP", keys.shard_keys(shard), [keys.prefix(shard), *sids]))
