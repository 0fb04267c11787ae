#!/usr/bin/env python
"""The project's own endpoints against stock Django doing the same work, per endpoint.

Starts a throwaway redis-server and three servers of the project, each with ``make serve``
(collectstatic, migrate, gunicorn: 2 sync workers, DEBUG off), settings
``bench.settings``, the same but for the session layer:

  (a) ``none``: no session layer; every request is the benchmark user's (the baseline);
  (b) ``stock``: Django's cache engine on django-redis and Django's own session and
      authentication middleware;
  (c) ``ours``: the project's engine and middleware, as shipped.

The views, templates, middleware and data are the same: a signed-in user with a 3-line
cart. wrk drives each endpoint on each server in turn, round after round, so all see the
same machine. Time per request is 1 / throughput; a layer's time is its time per request
minus (a)'s on the same endpoint in the same round, and the figure judged is the median
over the rounds of each round's (c) / (b) (target ≤ 1.0; ``GET /api/profile`` ≤ 0.5).
Paired by round, and in an order turned by one each round ((a) (b) (c), then (b) (c)
(a)...): the shared machine's speed drifts by tens of percent over a run, and medians
taken layer by layer could pair one layer's fast round with another's slow one.

Then it counts, per request, the Redis round trips each layer makes (the server's reads),
the commands sent in them (MONITOR; our login sends two of its three in one pipeline) and
the database queries it makes (Django's execute wrapper, ``bench.middleware.QueryCount``).
Target: every signed-in read makes 1 round trip and 0 queries (judged in smoke mode too:
counts are not timings).

Passwords use a fast hash in every configuration (``bench.settings``): argon2's time is
the same for all and would hide the session layer's share of a login.

    python bench/overhead.py                 # 9 rounds of 2 s per endpoint and layer
    python bench/overhead.py --smoke         # 1 round of 1 s: proves the script works
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import signal
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlsplit

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

HEADER = ["endpoint", "(a) none req/s", "(b) stock req/s", "(c) ours req/s"]
HEADER += ["(b) layer µs", "(c) layer µs", "(c)/(b)", "target"]
LAYERS = {"none": "(a) none", "stock": "(b) stock", "ours": "(c) ours"}
READER, LOGGER, PASSWORD = "alice", "bob", "correct horse battery staple"
PRODUCTS = 6
CLEAR_EVERY = 50  # cart adds between emptyings: no line nears its 99, even when stock loses one


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    target: float | None = 1.0  # (c)/(b) session-layer time; None: counted, not timed
    read: bool = False  # a signed-in read: 1 round trip, 0 queries
    body: str = ""

    def lua(self, products: list[int]) -> str:
        """A wrk script sending this request (a cart add cycles through the products)."""
        if self.path == "/api/cart/items":
            bodies = ", ".join(f'\'{{"product_id": {pid}, "quantity": 1}}\'' for pid in products)
            return (
                f"local bodies, n = {{{bodies}}}, 0\n"
                "request = function()\n  n = n + 1\n"
                f'  if n % {CLEAR_EVERY} == 0 then return wrk.format("DELETE", "/api/cart") end\n'
                f'  return wrk.format("POST", "{self.path}", nil, bodies[n % #bodies + 1])\nend\n'
            )
        return f"wrk.method = \"{self.method}\"\nwrk.body = '{self.body}'\n"


LOGIN_BODY = json.dumps({"username": LOGGER, "password": PASSWORD})
ENDPOINTS = [
    Endpoint("GET /api/profile", "GET", "/api/profile", target=0.5, read=True),
    Endpoint("GET /api/cart", "GET", "/api/cart", read=True),
    Endpoint("GET /accounts/profile/", "GET", "/accounts/profile/", read=True),
    Endpoint("GET / (writes its view counter)", "GET", "/"),
    Endpoint("POST /api/cart/items", "POST", "/api/cart/items", body='{"product_id": 0}'),
    Endpoint("POST /api/login", "POST", "/api/login", body=LOGIN_BODY),
    Endpoint("GET /api/sessions", "GET", "/api/sessions", target=None, read=True),
    Endpoint("GET /accounts/sessions/", "GET", "/accounts/sessions/", target=None, read=True),
]


@dataclass
class Client:
    """A browser of one server: its cookies, and the CSRF token an unsafe request sends."""

    base: str
    cookies: dict[str, str]

    def headers(self, method: str) -> dict[str, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if method != "GET":
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
            headers["Content-Type"] = "application/json"
        return headers

    def send(self, method: str, path: str, body: str = "", *, keep: bool = True):
        """One request; return (status, queries reported, body). ``keep``: take its cookies."""
        parts = urlsplit(self.base)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        connection.request(method, path, body=body or None, headers=self.headers(method))
        response = connection.getresponse()
        content = response.read()
        if keep:
            for value in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(value).items():
                    self.cookies[name] = morsel.value
        connection.close()
        return response.status, response.headers.get("X-Queries", "?"), content


def prepare(directory: Path, redis_url: str) -> tuple[Path, list[int]]:
    """The database every server starts from: two users and the products."""
    database = directory / "bench.sqlite3"
    configure_django(redis_url, database, DJANGO_SETTINGS_MODULE="bench.settings")
    from django.contrib.auth import get_user_model

    from cart.models import Product

    for name in (READER, LOGGER):
        get_user_model().objects.create_user(name, f"{name}@example.com", PASSWORD)
    products = [
        Product.objects.create(name=f"Product {i}", price="9.90", stock=10**9).pk
        for i in range(PRODUCTS)
    ]
    from django.db import connections

    connections.close_all()  # all of it in the file the servers' copies are made from
    return database, products


def sign_in(base: str, layer: str, products: list[int]) -> Client:
    """A client signed in as the reader with a 3-line cart (the baseline is signed in)."""
    client = Client(base, {})
    client.send("GET", "/api/csrf")
    if layer == "none":
        client.cookies["sessionid"] = "bench"  # bench.middleware.NoSessionLayer: signed in
    else:
        login = json.dumps({"username": READER, "password": PASSWORD})
        status, _, content = client.send("POST", "/api/login", login)
        if status != 200:
            raise SystemExit(f"bench: {layer}: login failed ({status}): {content[:200]!r}")
        for pid in products[:3]:
            client.send("POST", "/api/cart/items", json.dumps({"product_id": pid}))
    return client


def for_endpoint(client: Client, endpoint: Endpoint) -> Client:
    """The client itself, but for a login: a new visitor's (its CSRF cookie only), as a
    login in the signed-in session would end the reader's session on two layers of three."""
    if endpoint.path != "/api/login":
        return client
    return Client(client.base, {"csrftoken": client.cookies["csrftoken"]})


def count(counter: CommandCounter, client: Client, endpoint: Endpoint, products: list[int]):
    """(Redis commands, database queries) of one request: the fewest of three, as a worker
    thread that served none of the warm-up opens its connection (HELLO) once, not per
    request. A login is made without the session cookie, a cart add as the wrk script's."""
    tries = []
    for _ in range(3):
        body = endpoint.body
        if endpoint.path == "/api/cart/items":
            body = json.dumps({"product_id": products[0]})
        sender = for_endpoint(client, endpoint)
        seen: list = []

        def send(sender: Client = sender, body: str = body, seen: list = seen) -> None:
            seen.append(sender.send(endpoint.method, endpoint.path, body, keep=False))

        names = counter.count(send)
        status, queries, content = seen[0]
        if status != 200:  # a redirect to the login page would count as a cheap read
            raise SystemExit(f"bench: {endpoint.name}: {status} {content[:200]!r}")
        tries.append((names, int(queries), counter.round_trips))
    return min(tries, key=lambda t: (t[2], len(t[0]), t[1]))


def reset_cart(client: Client, products: list[int]) -> None:
    """Back to the 3-line cart the other endpoints are measured with."""
    client.send("DELETE", "/api/cart", keep=False)
    for pid in products[:3]:
        client.send("POST", "/api/cart/items", json.dumps({"product_id": pid}), keep=False)


def measure(
    options, clients: dict[str, Client], scripts: dict[str, Path], products: list[int]
) -> dict:
    rps: dict[tuple[str, str], list[float]] = {}
    timed = [e for e in ENDPOINTS if e.target is not None]
    if options.only:
        timed = [e for e in timed if options.only in e.name]
    for round_number in range(0 if options.smoke else -1, options.repeats):  # -1: warm-up
        turn = max(round_number, 0) % len(clients)
        order = [*clients][turn:] + [*clients][:turn]  # each layer first in turn
        for endpoint in timed:
            for layer in order:
                client = clients[layer]
                if endpoint.method == "GET":  # still signed in: a 200, not a redirect
                    status, _, _ = client.send("GET", endpoint.path, keep=False)
                    if status != 200:
                        raise SystemExit(f"bench: {layer} {endpoint.name}: {status}")
                result = wrk(
                    client.base + endpoint.path,
                    seconds=options.seconds if round_number >= 0 else 1,
                    connections=options.connections,
                    headers=for_endpoint(client, endpoint).headers(endpoint.method),
                    script=scripts[endpoint.name],
                )
                if result.non_2xx or result.errors:
                    problem = f"{result.non_2xx} non-2xx answers, {result.errors} socket errors"
                    raise SystemExit(f"bench: {layer} {endpoint.name}: {problem}")
                if round_number >= 0:
                    rps.setdefault((endpoint.name, layer), []).append(result.requests_per_second)
                if endpoint.path == "/api/cart/items" and layer != "none":
                    reset_cart(client, products)
        if round_number >= 0:
            print(f"  round {round_number + 1}: " + "; ".join(
                f"{e.name} " + "/".join(f"{rps[(e.name, layer)][-1]:,.0f}" for layer in LAYERS)
                + f" ({layer_ratios(rps, e.name)[-1][2]:.2f})"
                for e in timed
            ), file=sys.stderr)  # fmt: skip
    return rps


def layer_ratios(rps: dict, name: str) -> list[tuple[float, float, float]]:
    """Per round of endpoint ``name``: (b)'s and (c)'s layer µs, and (c) / (b)."""
    rounds = []
    for none, stock, ours in zip(*(rps[(name, layer)] for layer in LAYERS), strict=True):
        base = 1e6 / none
        layer_stock, layer_ours = 1e6 / stock - base, 1e6 / ours - base
        ratio = layer_ours / layer_stock if layer_stock > 0 else float("inf")
        rounds.append((layer_stock, layer_ours, ratio))
    return rounds


def run(options: argparse.Namespace, directory: Path) -> int:
    redis = RedisServer(directory)
    redis.start()
    try:
        database, products = prepare(directory, redis.url)
        scripts = {}
        for endpoint in ENDPOINTS:
            scripts[endpoint.name] = directory / f"{len(scripts)}.lua"
            scripts[endpoint.name].write_text(endpoint.lua(products))
        with ExitStack() as stack:
            clients = {}
            for layer in LAYERS:
                copy = directory / f"{layer}.sqlite3"  # its own: logins write last_login
                shutil.copy(database, copy)
                env = project_env(
                    redis.url, copy, DJANGO_SETTINGS_MODULE="bench.settings",
                    BENCH_SESSIONS=layer, BENCH_USERNAME=READER, LOGIN_RATE_LIMIT="1000000/1m",
                )  # fmt: skip
                log = directory / f"serve-{layer}.log"
                # Sync workers (no keep-alive): each request is balanced over both anew.
                base = stack.enter_context(gunicorn(env, workers=2, threads=1, log=log))
                clients[layer] = sign_in(base, layer, products)
            for client in clients.values():  # every worker connected, its caches filled
                for endpoint in (e for e in ENDPOINTS if e.method == "GET"):
                    for _ in range(16):
                        client.send("GET", endpoint.path, keep=False)
            counter = CommandCounter(redis.port)
            counts = {
                (e.name, layer): count(counter, clients[layer], e, products)
                for e in ENDPOINTS
                for layer in ("stock", "ours")
            }
            rps = measure(options, clients, scripts, products)
    finally:
        redis.stop()
    return report(options, rps, counts)


def report(options, rps: dict, counts: dict) -> int:
    rows, failures, spread = [], [], []
    for endpoint in (e for e in ENDPOINTS if (e.name, "none") in rps):
        per = {layer: median(rps[(endpoint.name, layer)]) for layer in LAYERS}
        rounds = layer_ratios(rps, endpoint.name)
        stock_us, ours_us, ratios = zip(*rounds, strict=True)
        layer_us = {"stock": median(stock_us), "ours": median(ours_us)}
        ratio = median(ratios)
        spread.append(f"{endpoint.name}: " + ", ".join(f"{r:.2f}" for r in ratios))
        rows.append(
            [
                endpoint.name,
                *(f"{per[layer]:,.0f}" for layer in LAYERS),
                f"{layer_us['stock']:.0f}",
                f"{layer_us['ours']:.0f}",
                f"{ratio:.2f}",
                f"≤ {endpoint.target}",
            ]
        )
        if ratio > endpoint.target:
            failures.append(f"{endpoint.name}: ratio {ratio:.2f} > {endpoint.target}")

    def shown(names: list[str], round_trips: int) -> str:
        return f"{round_trips} ({', '.join(names)})" if names else "0"

    count_rows = []
    for endpoint in ENDPOINTS:
        (s_names, s_queries, s_trips) = counts[(endpoint.name, "stock")]
        names, queries, trips = counts[(endpoint.name, "ours")]
        count_rows.append(
            [endpoint.name, shown(s_names, s_trips), s_queries, shown(names, trips), queries]
        )
        # One round trip (the server's reads: commands pipelined in it count once).
        if endpoint.read and (trips != 1 or queries != 0):
            failures.append(f"{endpoint.name}: {trips} round trips, {queries} queries")
    lines = [
        "Session layers on the project's endpoints: make serve (gunicorn 2 sync workers), "
        f"wrk 1 thread {options.connections} connections, {options.repeats} rounds "
        f"of {options.seconds} s per endpoint and layer (medians; the ratio: of each round's), "
        "a signed-in user with a 3-line cart",
        "",
        *markdown_table(HEADER, rows),
        "",
        "Each round's (c)/(b), in order (the table's is their median; the µs columns are "
        "medians of their own, so their quotient may differ):",
        "",
        *(f"- {line}" for line in spread),
        "",
        "Per request: Redis round trips (the server's reads, INFO total_reads_processed), "
        "the commands sent in them (MONITOR), and database queries:",
        "",
        *markdown_table(
            [
                "request",
                "stock: round trips (commands)",
                "stock: queries",
                "ours: round trips (commands)",
                "ours: queries",
            ],
            count_rows,
        ),
    ]
    timing = [f for f in failures if "ratio" in f]
    judged = [f for f in failures if "ratio" not in f] if options.smoke else failures
    verdict = "met" if not judged else "MISSED: " + "; ".join(judged)
    if options.smoke and timing:
        verdict += " (timings not judged in smoke mode)"
    lines += ["", "targets: " + verdict]
    write_report(options.output, lines)
    return 1 if judged else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9, help="rounds (a multiple of 3)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--smoke", action="store_true", help="one round of one second")
    parser.add_argument("--only", help="time only the endpoints whose name has this text")
    parser.add_argument("--output", type=Path, help="also write the table to this file")
    options = parser.parse_args()
    if options.smoke:
        options.seconds, options.repeats = 1, 1
    elif options.repeats % len(LAYERS):
        print(
            "bench: --repeats not a multiple of 3: the layers' order is not balanced",
            file=sys.stderr,
        )
    # Stopped (CI, a test's timeout): the finally blocks stop the servers and Redis.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if wrk_binary() is None:
        print("bench: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        try:
            return run(options, Path(tmp))
        except SystemExit:
            for log in Path(tmp).glob("serve-*.log"):
                print(
                    f"--- {log.name} (last lines)",
                    *log.read_text().splitlines()[-15:],
                    sep="\n",
                    file=sys.stderr,
                )
            raise


if __name__ == "__main__":
    sys.exit(main())
