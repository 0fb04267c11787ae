#!/usr/bin/env python
"""Redis memory per session: Django's stock cache engine against ours, same sessions.

A typical session: a signed-in user with a 3-line cart, one session per user, a real
browser user agent. Stock keeps it as Django's cache engine does (one pickled dict under
``django.contrib.sessions.cache<key>``, the cart inside it, django-redis's defaults). Ours
is written through the engine's own write path and scripts: the session, its cart lines
(``sessionadmin.items``), its index entries and activity metadata, and the cached copy of
its user that the middleware keeps (``sessionadmin.auth.usercache``). Each is measured as the
``used_memory`` delta of a throwaway redis-server, after FLUSHALL, over N sessions; the
target is ours / stock ≤ 1.0.

    python bench/memory.py               # 100,000 sessions each
    python bench/memory.py --smoke       # 2,000: proves the script works
"""

from __future__ import annotations

import argparse
import random
import secrets
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    USER_AGENTS,
    RedisServer,
    configure_django,
    make_users,
    markdown_table,
    write_report,
)

TARGET_RATIO = 1.0
BATCH = 2000
BACKEND = "accounts.backends.UsernameOrEmailBackend"


def session_data(user_id: int) -> dict:
    return {
        "_auth_user_id": str(user_id),
        "_auth_user_backend": BACKEND,
        "_auth_user_hash": secrets.token_hex(32),
    }


def cart(rng: random.Random) -> dict[str, int]:
    return {str(pid): rng.randrange(1, 4) for pid in rng.sample(range(1, 200), 3)}


def fill_stock(count: int, user_ids: list[int]) -> None:
    """What ``django.contrib.sessions.backends.cache`` writes: cache.add(key, data, age)."""
    from django.contrib.sessions.backends.cache import KEY_PREFIX
    from django.core.cache import caches

    stock = caches["stock"]
    rng = random.Random(3)
    age = 1209600  # SESSION_COOKIE_AGE's default
    for start in range(0, count, BATCH):
        batch = {}
        for i in range(start, min(count, start + BATCH)):
            data = session_data(user_ids[i])
            data["cart"] = cart(rng)
            batch[KEY_PREFIX + secrets.token_hex(16)] = data
        stock.set_many(batch, age)


def fill_ours(count: int, user_ids: list[int]) -> None:
    """Sessions as the project leaves them after login, three cart adds and a read."""
    from django.contrib.auth import get_user_model

    from sessionadmin.auth import usercache
    from sessionadmin.backends.redis import ClientInfo, SessionStore
    from sessionadmin.store import keys
    from sessionadmin.store.client import redis_client
    from sessionadmin.store.scripts import script

    client = redis_client()
    write, items, cache_user = (script(client, n) for n in ("WRITE", "ITEMS", "USER_FILL"))
    users = get_user_model().objects.in_bulk(user_ids)
    rng = random.Random(3)
    for start in range(0, count, BATCH):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(count, start + BATCH)):
            store = SessionStore()
            store._session_key = keys.draw_key(keys.user_shard(str(user_ids[i])))
            store.client = ClientInfo(
                f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                rng.choice(USER_AGENTS),
            )
            data = session_data(user_ids[i])
            store._session_cache = data
            script_keys, args = store.write_call("create", data)
            write(keys=script_keys, args=args, client=pipe)
            key = [keys.session_key_name(store.session_id)]
            for item, quantity in cart(rng).items():  # as cart.services adds: op, ns, ...
                items(keys=key, args=["add", "cart", item, quantity, 99, 99, 50], client=pipe)
            user = users[user_ids[i]]
            script_keys, args = usercache.fill_call(
                store.session_id, user, usercache.encode(user), b"0", data["_auth_user_hash"]
            )
            cache_user(keys=script_keys, args=args, client=pipe)
        pipe.execute()


def measure(client, fill, count: int, user_ids: list[int]) -> tuple[float, float]:
    """Return (bytes per session, bytes per event of the event log) after ``fill``.

    The event log is a capped stream (SESSION_EVENTS_MAX entries, whatever the number of
    sessions), so its memory is a fixed budget rather than a cost per session: it is
    measured apart (here it holds one sign-in event per session).
    """
    from sessionadmin.store import keys

    client.flushall()
    before = int(client.info("memory")["used_memory"])
    fill(count, user_ids)
    logs = [keys.events_log(shard) for shard in keys.shards()]
    log = sum(int(client.memory_usage(name) or 0) for name in logs)
    events = max(sum(int(client.xlen(name)) for name in logs), 1)
    return (int(client.info("memory")["used_memory"]) - before - log) / count, log / events


def run(options: argparse.Namespace, directory: Path) -> int:
    redis = RedisServer(directory)
    redis.start()
    try:
        configure_django(
            redis.url,
            directory / "bench.sqlite3",
            DJANGO_SETTINGS_MODULE="bench.settings",
        )
        user_ids = make_users(options.sessions)
        client = redis.client()
        stock, _ = measure(client, fill_stock, options.sessions, user_ids)
        ours, per_event = measure(client, fill_ours, options.sessions, user_ids)
        version = client.info("server")["redis_version"]
    finally:
        redis.stop()
    ratio = ours / stock
    lines = [
        f"Redis memory per session: {options.sessions:,} signed-in sessions with a 3-line "
        f"cart, one per user (redis-server {version}, used_memory delta)",
        "",
        *markdown_table(
            ["store", "bytes per session"],
            [
                ["Django's stock cache engine (pickle, no index)", f"{stock:.0f}"],
                ["ours (index, metadata, cached user and sign-in record included)", f"{ours:.0f}"],
            ],
        ),
        "",
        f"Event log, apart: {per_event:.0f} bytes per event, capped at SESSION_EVENTS_MAX "
        "(100,000 by default: about "
        f"{per_event * 100_000 / 2**20:.0f} MiB whatever the number of sessions).",
        "",
        f"Ratio ours / stock: {ratio:.2f}; target ≤ {TARGET_RATIO}",
    ]
    missed = ratio > TARGET_RATIO
    lines += ["", "targets: " + (f"MISSED: ratio {ratio:.2f}" if missed else "met")]
    write_report(options.output, lines)
    return 1 if missed and not options.smoke else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--smoke", action="store_true", help="2,000 sessions")
    parser.add_argument("--output", type=Path, help="also write the table to this file")
    options = parser.parse_args()
    if options.smoke:
        options.sessions = 2000
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        return run(options, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
