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

Informational: no target (overhead.py's ratios are the targets); it needs ``valgrind``
(``make tools`` installs it) and says so, exit 0, without it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def counted(args: list[str]) -> int:
    """Run this script's child under callgrind; return the instructions it executed."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [sys.executable, __file__, "--child", *args]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or not found:
        raise SystemExit(f"bench: callgrind run failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def run(options: argparse.Namespace, directory: Path) -> int:
    redis = RedisServer(directory)
    redis.start()
    try:
        database, products = prepare(directory, redis.url)
        endpoints = [e for e in ENDPOINTS if e.target is not None][: 1 if options.smoke else None]
        jobs = {}
        for endpoint in endpoints:
            for layer in LAYERS:
                copy = directory / f"{layer}-{len(jobs)}.sqlite3"  # logins write last_login
                shutil.copy(database, copy)
                for count in (SHORT, LONG):
                    args = [layer, endpoint.name, str(count), str(copy), redis.url]
                    jobs[endpoint.name, layer, count] = [*args, json.dumps(products)]
        with ThreadPoolExecutor(2) as pool:
            totals = dict(zip(jobs, pool.map(counted, jobs.values()), strict=True))
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
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        layer, name, count, database, url, products = options.child
        serve(layer, name, int(count), database, url, json.loads(products))
        return 0
    if shutil.which("valgrind") is None:
        write_report(options.output, ["valgrind is not installed: instruction counts skipped"])
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        return run(options, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
