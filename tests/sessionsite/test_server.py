"""Nothing lives in a worker's memory: workers and app servers on one Redis agree."""

from __future__ import annotations

import json
import re
import socket
import time

import pytest

from tests.servers import Browser, gunicorn

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]


def _raw_get(sock: socket.socket, path: str, cookie: str) -> dict:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
    sock.sendall((request + "Connection: close\r\n\r\n").encode())
    raw = b""
    while chunk := sock.recv(65536):
        raw += chunk
    return json.loads(raw.split(b"\r\n\r\n", 1)[1])


def test_two_workers_share_sessions(redis):
    """Each round pins one sync worker with an open connection that has not sent its
    request yet, so the browser's request must be served by the other worker; then the
    pinned worker serves the same session. Both see every write of the other."""
    browser = Browser()
    with gunicorn(workers=2, threads=1) as (base, log):
        views = [browser.request("GET", f"{base}/api/session")[2]["views"]]
        cookie = f"sessionid={browser.cookie('sessionid')}"
        port = int(base.rsplit(":", 1)[1])
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as pinned:
                time.sleep(0.2)  # let one worker accept it and block reading
                views.append(browser.request("GET", f"{base}/api/session")[2]["views"])
                views.append(_raw_get(pinned, "/api/session", cookie)["views"])
        time.sleep(0.2)
        served_by = re.findall(r"pid=<(\d+)> 200 GET /api/session", log.read_text())
    assert views == list(range(1, 8))  # each worker read what the other wrote
    # Within each round the two requests came from different workers.
    rounds = [served_by[i : i + 2] for i in range(1, 7, 2)]
    assert all(len(set(pair)) == 2 for pair in rounds), served_by


def test_two_app_servers_on_one_redis_see_the_same_sessions(redis):
    browser = Browser()
    with gunicorn(workers=1, threads=2) as (one, _), gunicorn(workers=1, threads=2) as (two, _):
        views = [
            browser.request("GET", f"{base}/api/session")[2]["views"] for base in [one, two] * 5
        ]
        status, _, body = browser.request("GET", f"{two}/api/admin-does-not-exist")
    assert views == list(range(1, 11))
    assert status == 404 and body["code"] == "NOT_FOUND"
