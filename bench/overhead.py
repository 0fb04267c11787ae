#!/usr/bin/env python
"""Session-layer overhead against Django's stock engine, and Redis round trips per request.

Starts a throwaway redis-server and three gunicorns of the project (2 sync workers each,
settings ``bench.settings``), the same but for the session layer:

  (a) ``none``: no session or authentication middleware, the same JSON view;
  (b) ``stock``: Django's cache engine on django-redis (its defaults) and Django's own
      session and authentication middleware;
  (c) ``ours``: the project's engine, index, timeout and activity middleware.

wrk drives ``GET /bench/whoami`` (an authenticated read of ``request.user``) on each in
turn, round after round, so (a), (b) and (c) see the same machine. Time per request is
1 / throughput; a layer's overhead is its time per request minus (a)'s; the figure judged
is the median over rounds of (c)'s overhead / (b)'s (target ≤ 0.5).

Then, with Redis MONITOR, it counts the commands each layer sends for a plain signed-in
GET, a signed-in POST that changes the session, and a login (target: 1 round trip for
ours' GET). None of these paths pipelines, so commands sent are round trips.

    python bench/overhead.py                 # 5 rounds of 5 s per configuration
    python bench/overhead.py --smoke         # 1 round of 1 s: proves the script works
"""

from __future__ import annotations

import argparse
import http.client
import sys
import tempfile
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    CommandCounter,
    RedisServer,
    configure_django,
    gunicorn,
    markdown_table,
    median,
    project_env,
    write_report,
    wrk,
    wrk_binary,
)

TARGET_RATIO = 0.5
MODES = {"none": "(a) no session", "stock": "(b) Django's stock", "ours": "(c) ours"}
USERNAME, PASSWORD = "alice", "correct horse battery staple"


def request(
    base: str, method: str, path: str, *, form: dict | None = None, cookie: str = ""
) -> tuple[int, str]:
    """One HTTP request; return the status and the session cookie it set (or "")."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    body = urlencode(form) if form else None
    headers = {"Cookie": cookie} if cookie else {}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    set_cookie = ""
    for name, value in response.getheaders():
        if name.lower() == "set-cookie" and value.startswith("sessionid="):
            set_cookie = value.split(";", 1)[0]
    connection.close()
    return response.status, set_cookie


def sign_in(base: str) -> str:
    status, cookie = request(
        base, "POST", "/bench/login", form={"username": USERNAME, "password": PASSWORD}
    )
    if status != 200 or not cookie:
        raise SystemExit(f"bench: login failed on {base} ({status})")
    return cookie


def round_trips(counter: CommandCounter, servers: dict[str, str]) -> list[list[object]]:
    rows: dict[str, dict[str, list[str]]] = {}
    for mode in ("stock", "ours"):
        base = servers[mode]
        cookie = sign_in(base)
        for _ in range(8):  # warm: every worker connected, the user cached
            request(base, "GET", "/bench/whoami", cookie=cookie)
            request(base, "POST", "/bench/count", cookie=cookie)
        read = partial(request, base, "GET", "/bench/whoami", cookie=cookie)
        rows[mode] = {
            # The fewest of three: a sync worker that served none of the warm-up requests
            # opens its connection (HELLO) on its first one, once, not per request.
            "signed-in GET (no touch due)": min((counter.count(read) for _ in range(3)), key=len),
            "signed-in POST changing the session": counter.count(
                partial(request, base, "POST", "/bench/count", cookie=cookie)
            ),
            "login (Django's login())": counter.count(partial(sign_in, base)),
        }

    def show(names: list[str]) -> str:
        return f"{len(names)} ({', '.join(names)})" if names else "0"

    return [[what, show(rows["stock"][what]), show(rows["ours"][what])] for what in rows["ours"]]


def run(options: argparse.Namespace, directory: Path) -> int:
    redis = RedisServer(directory)
    redis.start()
    try:
        database = directory / "bench.sqlite3"
        configure_django(redis.url, database)
        from django.contrib.auth import get_user_model

        get_user_model().objects.create_user(USERNAME, f"{USERNAME}@example.com", PASSWORD)
        database_url = f"sqlite:///{database}"
        if options.conn_max_age:
            database_url += f"?conn_max_age={options.conn_max_age}"
        with ExitStack() as stack:
            servers = {
                mode: stack.enter_context(
                    gunicorn(
                        project_env(
                            redis.url,
                            database,
                            DJANGO_SETTINGS_MODULE="bench.settings",
                            BENCH_SESSIONS=mode,
                            DATABASE_URL=database_url,
                        ),
                        workers=2,
                        log=directory / f"gunicorn-{mode}.log",
                    )
                )
                for mode in MODES
            }
            trips = round_trips(CommandCounter(redis.port), servers)
            throughput = measure(options, servers)
    finally:
        redis.stop()
    return report(options, throughput, trips)


def measure(options: argparse.Namespace, servers: dict[str, str]) -> dict[str, list[float]]:
    cookies = {mode: sign_in(base) for mode, base in servers.items() if mode != "none"}
    throughput: dict[str, list[float]] = {mode: [] for mode in MODES}
    for round_number in range(-1, options.repeats):  # round -1 warms every server up
        for mode, base in servers.items():
            headers = {"Cookie": cookies[mode]} if mode in cookies else {}
            result = wrk(
                f"{base}/bench/whoami",
                seconds=options.seconds if round_number >= 0 else 1,
                connections=options.connections,
                headers=headers,
            )
            if result.non_2xx or result.errors:
                failed = f"{result.non_2xx} non-2xx answers, {result.errors} socket errors"
                raise SystemExit(f"bench: {mode}: {failed}")
            if round_number >= 0:
                throughput[mode].append(result.requests_per_second)
        if round_number >= 0:
            print(f"  round {round_number + 1}: " + ", ".join(
                f"{mode} {throughput[mode][-1]:,.0f}/s" for mode in MODES
            ), file=sys.stderr)  # fmt: skip
    return throughput


def report(options, throughput: dict[str, list[float]], trips: list[list[object]]) -> int:
    micro = {mode: [1e6 / rps for rps in values] for mode, values in throughput.items()}
    overhead = {
        mode: [t - base for t, base in zip(micro[mode], micro["none"], strict=True)]
        for mode in ("stock", "ours")
    }
    ratios = [
        ours / stock if stock > 0 else float("inf")
        for ours, stock in zip(overhead["ours"], overhead["stock"], strict=True)
    ]
    ratio = median(ratios)
    rows = [
        [
            label,
            f"{median(throughput[mode]):,.0f}",
            f"{median(micro[mode]):.0f}",
            f"{median(overhead[mode]):.0f}" if mode in overhead else "—",
        ]
        for mode, label in MODES.items()
    ]
    lines = [
        f"Session-layer overhead: gunicorn 2 sync workers, wrk 1 thread {options.connections} "
        f"connections, {options.repeats} rounds of {options.seconds} s (medians), "
        f"CONN_MAX_AGE={options.conn_max_age}",
        "",
        *markdown_table(
            ["configuration", "requests/s", "µs per request", "session layer µs per request"],
            rows,
        ),
        "",
        f"Overhead ratio (c)/(b): {ratio:.2f} (per round: "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + f"); target ≤ {TARGET_RATIO}",
        "",
        "Redis commands sent per request (MONITOR; no pipelining, so each is a round trip):",
        "",
        *markdown_table(["request", "stock", "ours"], trips),
    ]
    failures = []
    if ratio > TARGET_RATIO:
        failures.append(f"overhead ratio {ratio:.2f} > {TARGET_RATIO}")
    if not trips[0][2].startswith("1 "):
        failures.append(f"signed-in GET sent {trips[0][2]}, not 1 round trip")
    lines += ["", "targets: " + ("met" if not failures else "MISSED: " + "; ".join(failures))]
    write_report(options.output, lines)
    return 1 if failures and not options.smoke else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=0,
        help="keep database connections this many seconds (Django's CONN_MAX_AGE; default 0 "
        "as the project ships: a query opens a connection)",
    )
    parser.add_argument("--smoke", action="store_true", help="one round of one second")
    parser.add_argument("--output", type=Path, help="also write the table to this file")
    options = parser.parse_args()
    if options.smoke:
        options.seconds, options.repeats = 1, 1
    if wrk_binary() is None:
        print("bench: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        return run(options, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
