"""Nothing lives in a worker's memory: workers and app servers on one Redis agree."""

from __future__ import annotations

import re

import pytest

from tests.servers import Browser, gunicorn

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]


def test_two_workers_share_sessions(redis):
    browser = Browser()
    with gunicorn(workers=2, threads=2) as (base, log):
        views = [browser.request("GET", f"{base}/api/session")[2]["views"] for _ in range(40)]
        served_by = set(re.findall(r"pid=<(\d+)> 200 GET /api/session", log.read_text()))
    assert views == list(range(1, 41))  # each worker read what the other wrote
    assert len(served_by) == 2, "both workers should have served requests"


def test_two_app_servers_on_one_redis_see_the_same_sessions(redis):
    browser = Browser()
    with gunicorn(workers=1, threads=2) as (one, _), gunicorn(workers=1, threads=2) as (two, _):
        views = [
            browser.request("GET", f"{base}/api/session")[2]["views"] for base in [one, two] * 5
        ]
        status, _, body = browser.request("GET", f"{two}/api/admin-does-not-exist")
    assert views == list(range(1, 11))
    assert status == 404 and body["code"] == "NOT_FOUND"
