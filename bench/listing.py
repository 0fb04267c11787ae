#!/usr/bin/env python
"""Listing benchmark: the dashboard's queries over 1,000,000 active sessions.

Starts a throwaway redis-server of its own (no persistence, unix socket in a temp dir;
never the development data), writes N sessions over M users through the engine's own
write path (SessionStore.write_call, pipelined), then times, through the functions the
views call: the dashboard's first page, page 100, a per-user listing, the stats and two
searches. Prints a table (median and p99 over repeats, Redis memory per session) and exits
non-zero if the first page or a per-user listing takes 20 ms or more, or if Redis's
SLOWLOG (threshold 1000 µs) caught any listing command.

    python bench/listing.py            # 1,000,000 sessions, 100,000 users
    python bench/listing.py --smoke    # a few thousand, for the test suite (figures not judged)
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.common import USER_AGENTS, make_users  # noqa: E402 (the path above first)

TARGET_MS = 20.0
SLOWLOG_US = 1000


def start_redis(directory: Path) -> tuple[subprocess.Popen, Path]:
    from sessionsite.embedded import redis_server_binary

    sock = directory / "bench-redis.sock"
    process = subprocess.Popen(
        [redis_server_binary(), "--port", "0", "--unixsocket", str(sock), "--save", "",
         "--appendonly", "no", "--dir", str(directory), "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(200):
        if sock.exists():
            return process, sock
        time.sleep(0.05)
    process.kill()
    raise SystemExit("bench: redis-server did not start")


def configure_django(sock: Path, directory: Path) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "sessionsite.settings",
            "REDIS_URL": f"unix://{sock}?db=0",
            "DATABASE_URL": f"sqlite:///{directory / 'bench.sqlite3'}",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "0",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fill(sessions: int, user_ids: list[int], spread_ms: int) -> None:
    """Write ``sessions`` signed-in sessions through the engine's write path, pipelined."""

    from sessionadmin.backends.redis import ClientInfo, SessionStore
    from sessionadmin.store import keys
    from sessionadmin.store.client import now_ms, redis_client
    from sessionadmin.store.scripts import script

    client = redis_client()
    write = script(client, "WRITE")
    rng = random.Random(7)
    now = now_ms()
    pipe = client.pipeline(transaction=False)
    for i in range(sessions):
        uid = user_ids[i % len(user_ids)]
        store = SessionStore()
        store._session_key = keys.draw_key(keys.user_shard(str(uid)))  # as a sign-in does
        store.client = ClientInfo(
            f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            rng.choice(USER_AGENTS),
        )
        data = {
            "_auth_user_id": str(uid),
            "_auth_user_backend": "accounts.backends.UsernameOrEmailBackend",
            "_auth_user_hash": secrets.token_hex(32),
            "views": rng.randrange(1, 50),
        }
        store._session_cache = data
        script_keys, args = store.write_call("create", data, now - rng.randrange(spread_ms))
        write(keys=script_keys, args=args, client=pipe)
        if i % 2000 == 1999:
            pipe.execute()
        if i % 100_000 == 99_999:
            print(f"  {i + 1:>9,} sessions written", file=sys.stderr)
    pipe.execute()


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    fn()  # warm: scripts loaded, connection open
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--smoke", action="store_true", help="a few thousand sessions")
    parser.add_argument("--output", type=Path, help="also write the table to this file")
    options = parser.parse_args()
    if options.smoke:
        options.sessions, options.users, options.repeats = 5000, 500, 10

    with tempfile.TemporaryDirectory(prefix="bench-listing-") as tmp:
        directory = Path(tmp)
        process, sock = start_redis(directory)
        try:
            return run(options, sock, directory)
        finally:
            process.terminate()
            process.wait(10)


def run(options: argparse.Namespace, sock: Path, directory: Path) -> int:
    configure_django(sock, directory)
    from sessionadmin import services
    from sessionadmin.index import queries
    from sessionadmin.store.client import redis_client

    client = redis_client()
    user_ids = make_users(options.users)
    before = int(client.info("memory")["used_memory"])
    started = time.perf_counter()
    fill(options.sessions, user_ids, spread_ms=20 * 60 * 1000)
    fill_seconds = time.perf_counter() - started
    per_session = (int(client.info("memory")["used_memory"]) - before) / options.sessions

    rng = random.Random(11)
    client.config_set("slowlog-log-slower-than", SLOWLOG_US)
    client.slowlog_reset()
    listings = {
        "dashboard, first page (50)": lambda: services.serialize_sessions(
            services.list_sessions(page=1, page_size=50).results
        ),
        "dashboard, page 100 (50)": lambda: services.serialize_sessions(
            services.list_sessions(page=100, page_size=50).results
        ),
        "one user's sessions": lambda: services.serialize_sessions(
            services.list_user_sessions(rng.choice(user_ids))
        ),
        "stats": services.session_stats,
    }
    searches = {
        "search, frequent match (IP '10.1.')": lambda: services.list_sessions(query="10.1."),
        f"search, rare match (bounded at {queries.SEARCH_MAX:,})": lambda: services.list_sessions(
            query="no-such-agent"
        ),
    }
    rows = [(name, *timed(fn, options.repeats)) for name, fn in listings.items()]
    rows += [(name, *timed(fn, max(3, options.repeats // 10))) for name, fn in searches.items()]
    slow = client.slowlog_get(128)
    for entry in slow:
        command = entry["command"][:80]
        print(f"slow: {entry['duration']} µs: {command!r}", file=sys.stderr)

    lines = [
        f"Listing benchmark: {options.sessions:,} sessions over {options.users:,} users "
        f"(filled in {fill_seconds:.0f} s through the engine's write path)",
        "",
        "| operation | median ms | p99 ms |",
        "|---|---:|---:|",
        *[f"| {name} | {median:.2f} | {p99:.2f} |" for name, median, p99 in rows],
        "",
        f"Redis memory per session (index and metadata included): {per_session:.0f} bytes",
        f"Redis commands slower than {SLOWLOG_US} µs during the listings: {len(slow)}"
        + (f" (slowest {max(e['duration'] for e in slow)} µs)" if slow else ""),
    ]
    failures = [
        f"{name}: median {median:.2f} ms ≥ {TARGET_MS} ms"
        for name, median, _ in rows
        if name.startswith(("dashboard, first", "one user")) and median >= TARGET_MS
    ]
    if slow:
        failures.append(f"{len(slow)} Redis command(s) over {SLOWLOG_US} µs")
    lines.append("targets: " + ("met" if not failures else "MISSED: " + "; ".join(failures)))
    report = "\n".join(lines)
    print(report)
    if options.output:
        options.output.parent.mkdir(parents=True, exist_ok=True)
        options.output.write_text(report + "\n")
    # Smoke mode proves the script works; only a full run judges the figures.
    return 1 if failures and not options.smoke else 0


if __name__ == "__main__":
    sys.exit(main())
