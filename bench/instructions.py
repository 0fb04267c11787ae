#!/usr/bin/env python
"""The session layers' CPU work per request, counted rather than timed: machine
instructions under valgrind's callgrind, per endpoint, stock Django against ours.

``bench/overhead.py`` judges the layers by throughput, which on a shared two-core machine
swings by tens of percent from run to run for a layer of a hundred µs. An instruction
count does not: it is the same on a busy machine and a quiet one, so a change of a few
percent in the layer's own work shows. What it leaves out is what the machine does
outside the application process: Redis's time per command (a Lua script's ~13 µs against
a plain ``GET``'s ~2 µs, see the README) and the kernel's.

Each configuration of ``bench.settings`` (``none``, ``stock``, ``ours``: the same views,
middleware and data as overhead.py's servers) serves each endpoint in-process through
Django's test client, against a throwaway Redis, under callgrind, twice: ``SHORT`` and
``LONG`` requests after a warm-up. The difference divided by ``LONG - SHORT`` is the
instructions of one request, start-up excluded; a layer's is its count minus ``none``'s.
The counts are not timings, so runs go two at a time.

    python bench/instructions.py            # every endpoint of overhead.py's table
    python bench/instructions.py --smoke    # one endpoint: proves the script works
    python bench/instructions.py --only login   # the endpoints whose name has "login"

Informational: no target (overhead.py's ratios are the targets); it needs ``valgrind``
(``make tools`` installs it) and says so, exit 0, without it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis as redis_py

from bench.common import RedisServer, markdown_table, project_env, write_report
from bench.overhead import ENDPOINTS, LOGGER, PASSWORD, READER, prepare

WARM, SHORT, LONG = 10, 10, 60
LAYERS = ("none", "stock", "ours")


def serve(layer: str, name: str, count: int, database: str, redis_url: str, products: list):
    """In the child: sign in as overhead.py's clients do, warm up, then ``count`` requests."""
    os.environ.update(
        project_env(
            redis_url, Path(database), DJANGO_SETTINGS_MODULE="bench.settings",
            BENCH_SESSIONS=layer, ALLOWED_HOSTS="testserver",
        )
    )  # fmt: skip
    import django

    django.setup()
    from django.test import Client

    endpoint = next(e for e in ENDPOINTS if e.name == name)
    reader, visitor = Client(), Client()
    if layer == "none":
        reader.cookies["sessionid"] = "bench"  # bench.middleware.NoSessionLayer: signed in
    else:
        login = json.dumps({"username": READER, "password": PASSWORD})
        reader.post("/api/login", login, content_type="application/json")
        for pid in products[:3]:
            reader.post("/api/cart/items", json.dumps({"product_id": pid}), "application/json")
    sign_in = json.dumps({"username": LOGGER, "password": PASSWORD})

    def one(i: int) -> int:
        if endpoint.path == "/api/login":  # a new visitor each time, as overhead.py's
            visitor.cookies.clear()
            return visitor.post("/api/login", sign_in, "application/json").status_code
        if endpoint.method == "POST":
            body = json.dumps({"product_id": products[i % 3]})
            return reader.post(endpoint.path, body, "application/json").status_code
        return reader.get(endpoint.path).status_code

    statuses = {one(i) for i in range(WARM + count)}
    if not statuses <= {200, 201}:
        raise SystemExit(f"{layer} {name}: answered {sorted(statuses)}")


def start(args: list[str], log: Path) -> subprocess.Popen:
    """Start this script's child under callgrind, in a process group of its own, its
    report (valgrind writes to stderr) going to ``log``."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [sys.executable, __file__, "--child", *args]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    with log.open("w") as stderr:
        return subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=stderr, env=env, start_new_session=True
        )


def count_all(jobs: dict[tuple, list[str]], directory: Path) -> dict[tuple, int]:
    """Run the jobs under callgrind two at a time; return the instructions of each. Stopped
    early (SIGTERM, a failed run), it kills the runs under way: none outlives it."""
    pending = [
        (key, args, directory / f"callgrind-{n}.log") for n, (key, args) in enumerate(jobs.items())
    ]
    running: dict[tuple, tuple[subprocess.Popen, Path, int]] = {}
    totals: dict[tuple, int] = {}
    try:
        while pending or running:
            while pending and len(running) < 2:
                key, args, log = pending.pop(0)
                # Each run starts from an empty Redis database of its own: each signs the
                # same user in, and what an earlier or concurrent run left there (that
                # user's sessions, its cap to apply) would change what this sign-in does,
                # counted in one of a pair of runs and not the other.
                db = min({1, 2} - {slot for _, _, slot in running.values()})
                url = args[4].rsplit("/", 1)[0] + f"/{db}"
                redis_py.Redis.from_url(url).flushdb()
                running[key] = (start([*args[:4], url, *args[5:]], log), log, db)
            time.sleep(0.1)
            for key, (process, log, _) in list(running.items()):
                if process.poll() is None:
                    continue
                del running[key]
                report = log.read_text()
                found = re.search(r"Collected : (\d+)", report)
                if process.returncode != 0 or not found:
                    raise SystemExit(f"bench: callgrind run failed:\n{report[-2000:]}")
                totals[key] = int(found.group(1))
    finally:
        for process, _, _ in running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return totals


def load_scripts(client) -> None:
    """Load the store's scripts before any run: else the first runs of ours find none
    (NOSCRIPT) and load them, and a run that did so while its pair did not would count
    that one-time work as if it were per request."""
    from sessionadmin.store.scripts import names, source

    for name in names():
        client.script_load(source(name))


def run(options: argparse.Namespace, directory: Path) -> int:
    redis = RedisServer(directory)
    redis.start()
    try:
        database, products = prepare(directory, redis.url)
        load_scripts(redis.client())
        endpoints = [e for e in ENDPOINTS if e.target is not None][: 1 if options.smoke else None]
        endpoints = [e for e in endpoints if (options.only or "") in e.name]
        jobs = {}
        for endpoint in endpoints:
            for layer in LAYERS:
                for count in (SHORT, LONG):
                    # A database each: two runs go at once, and logins write last_login.
                    copy = directory / f"run-{len(jobs)}.sqlite3"
                    shutil.copy(database, copy)
                    args = [layer, endpoint.name, str(count), str(copy), redis.url]
                    jobs[endpoint.name, layer, count] = [*args, json.dumps(products)]
        totals = count_all(jobs, directory)
    finally:
        redis.stop()
    rows = []
    for endpoint in endpoints:
        per = {
            layer: (totals[endpoint.name, layer, LONG] - totals[endpoint.name, layer, SHORT])
            / (LONG - SHORT)
            for layer in LAYERS
        }
        stock, ours = per["stock"] - per["none"], per["ours"] - per["none"]
        rows.append(
            [endpoint.name, f"{per['none'] / 1e6:.3f}", f"{per['stock'] / 1e6:.3f}",
             f"{per['ours'] / 1e6:.3f}", f"{stock / 1e3:,.0f}", f"{ours / 1e3:,.0f}",
             f"{ours / stock:.2f}" if stock > 0 else "n/a"]
        )  # fmt: skip
    header = ["endpoint", "(a) none M", "(b) stock M", "(c) ours M", "(b) layer K"]
    header += ["(c) layer K", "(c)/(b)"]
    lines = [
        "Session layers' instructions per request (callgrind, in-process through Django's "
        f"test client; {LONG - SHORT} requests, start-up excluded; Redis's own work not "
        "counted)",
        "",
        *markdown_table(header, rows),
    ]
    write_report(options.output, lines)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one endpoint")
    parser.add_argument("--output", type=Path, help="also write the table to this file")
    parser.add_argument("--only", help="count only the endpoints whose name has this text")
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        layer, name, count, database, url, products = options.child
        serve(layer, name, int(count), database, url, json.loads(products))
        return 0
    # Stopped (the smoke test's timeout): stop the runs and Redis on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if shutil.which("valgrind") is None:
        write_report(options.output, ["valgrind is not installed: instruction counts skipped"])
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        return run(options, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
