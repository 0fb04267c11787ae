"""Session events, hijack flags and metrics over HTTP against a real two-worker gunicorn.

Every ending reason is driven the way a user, staff or an operator causes it; each must
show once as a ``session_ended`` signal (a receiver in tests/signal_settings.py writes
them to a file), in the events API, on the dashboard's events page and in the command.
Clients connect from several loopback addresses (127.0.0.0/8 is all ours) so the server
sees real changes of network. /metrics is scraped from the same server: its counters
must add up exactly across the two workers (PROMETHEUS_MULTIPROC_DIR).
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import BASE_DIR, gunicorn, server_env

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse 9"
ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


class Agent:
    """One browser: its cookies, its user agent, and the loopback address it connects from."""

    def __init__(self, base: str, source: str = "127.0.0.1", agent: str = FIREFOX) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.source, self.agent, self.cookies = source, agent, {}

    def call(self, method: str, path: str, body=None, *, source=None, agent=None, form=None):
        connection = http.client.HTTPConnection(
            self.host, self.port, timeout=10, source_address=(source or self.source, 0)
        )
        headers = {"User-Agent": agent or self.agent}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method not in ("GET", "HEAD") and "csrftoken" in self.cookies:
            headers["X-CSRFToken"] = self.cookies["csrftoken"]
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body), "application/json"
        if form is not None:
            data = "&".join(f"{k}={v}" for k, v in form.items())
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    if morsel["max-age"] == "0" or "1970" in morsel["expires"]:
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
        finally:
            connection.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode(errors="replace")

    def login(self, username: str, password: str = PASSWORD) -> int:
        self.call("GET", "/api/csrf")
        status, _ = self.call("POST", "/api/login", {"username": username, "password": password})
        return status

    def session_id(self) -> str:
        status, body = self.call("GET", "/api/profile")
        assert status == 200, body
        return body["session"]["id"]


def signed_in(base: str, username: str, **kwargs) -> tuple[Agent, str]:
    agent = Agent(base, **kwargs)
    assert agent.login(username) == 200
    return agent, agent.session_id()


def scrape(base: str, source: str = "127.0.0.1") -> tuple[int, dict]:
    status, text = Agent(base, source=source).call("GET", "/metrics")
    values = {}
    if status == 200:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return status, values


def metric(values: dict, name: str, **labels) -> float:
    return values.get((name, tuple(sorted(labels.items()))), 0)


@pytest.fixture
def users(redis, django_user_model):
    names = ["quitter", "idler", "forgotten", "steady", "mover", "owner", "target", "ops",
             "crowd", "changer", "leaver", "victim"]  # fmt: skip
    with override_settings(PASSWORD_HASHERS=[ARGON2]):  # the server's own first hasher
        made = {n: django_user_model.objects.create_user(n, f"{n}@example.com", PASSWORD)
                for n in names}  # fmt: skip
        made["boss"] = django_user_model.objects.create_superuser(
            "boss", "boss@example.com", PASSWORD
        )
    return made


@pytest.fixture
def served(users, tmp_path):
    signal_log = tmp_path / "signals.jsonl"
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.signal_settings",
        "SIGNAL_LOG": str(signal_log),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "SESSION_IDLE_TIMEOUT": "2",
        "SESSION_ABSOLUTE_TIMEOUT": "5",
        "SESSION_TOUCH_INTERVAL": "0",
        "SESSION_MAX_PER_USER": "3",
        "LOGIN_RATE_LIMIT": "3/15m",
        "METRICS_NETWORKS": "127.0.0.1/32",
    }
    with gunicorn(workers=2, threads=4, **env) as (base, _log):
        yield base, env, signal_log


def command(env: dict, *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "manage.py", "sessions", *args],
        cwd=BASE_DIR, env=server_env(**env), capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def signals_sent(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_every_ending_reason_is_a_signal_an_event_a_row_and_a_line(served, users):
    base, env, signal_log = served
    expected: dict[str, str] = {}  # session id -> reason
    logins = 0

    # The timeouts first, side by side: idle 2 s, absolute 5 s, touched on every request.
    steady, steady_id = signed_in(base, "steady")
    idler, idler_id = signed_in(base, "idler")
    _, forgotten_id = signed_in(base, "forgotten")
    logins += 3
    started = time.monotonic()
    while True:  # steady activity, until the absolute deadline ends it
        status, body = steady.call("GET", "/api/profile")
        if status == 401:
            assert body["reason"] == "absolute", body
            break
        assert time.monotonic() - started < 8, "the absolute timeout never came"
        if idler_id not in expected and time.monotonic() - started > 2.5:
            status, body = idler.call("GET", "/api/profile")
            assert (status, body["reason"]) == (401, "idle")
            expected[idler_id] = "idle"
        time.sleep(0.4)
    expected[steady_id] = "absolute"
    # "forgotten" made no request since it signed in: nobody ever sees it expire, but the
    # trim of other sessions' writes finds it.
    found_after = None
    for n in range(300):
        if time.monotonic() - started > 60:
            break
        # A new guest each time: its session lands in any shard, and a write trims its
        # own shard's index (a site's traffic reaches every shard).
        Agent(base, source=f"127.0.{10 + n % 200}.5").call("GET", "/api/session")
        ended = [s for s in signals_sent(signal_log) if s["signal"] == "session_ended"]
        if any(s["session_id"] == forgotten_id for s in ended):
            found_after = time.monotonic() - started
            break
        time.sleep(0.2)
    assert found_after is not None, "the trim never reported the unseen idle expiry"
    print(f"\nunseen idle expiry found by the trim {found_after:.1f} s after its sign-in")
    expected[forgotten_id] = "idle"

    quitter, quitter_id = signed_in(base, "quitter")
    assert quitter.call("POST", "/api/logout")[0] == 200
    expected[quitter_id] = "logout"

    owner, _ = signed_in(base, "owner")
    _, owned_id = signed_in(base, "owner")
    assert owner.call("DELETE", f"/api/sessions/{owned_id}")[0] == 204
    expected[owned_id] = "revoked"  # by the user

    boss, _ = signed_in(base, "boss")
    _, target_id = signed_in(base, "target")
    assert boss.call("DELETE", f"/api/admin/sessions/{target_id}")[0] == 204
    expected[target_id] = "revoked"  # by staff

    _, ops_id = signed_in(base, "ops")
    assert "revoked 1" in command(env, "revoke", ops_id)
    expected[ops_id] = "revoked"  # by a command
    logins += 6

    _, first_id = signed_in(base, "crowd")
    for _ in range(3):
        signed_in(base, "crowd")
    expected[first_id] = "evicted"  # the limit is 3
    logins += 4

    changer, _ = signed_in(base, "changer")
    _, other_id = signed_in(base, "changer")
    status, body = changer.call(
        "POST", "/api/password",
        {"old_password": PASSWORD, "new_password": "an even better one 8"},
    )  # fmt: skip
    assert status == 200, body
    expected[other_id] = "password_changed"
    logins += 2

    _, leaver_id = signed_in(base, "leaver")
    boss, _ = signed_in(base, "boss")
    status, _ = boss.call(
        "POST", f"/admin/auth/user/{users['leaver'].pk}/delete/", form={"post": "yes"}
    )
    assert status == 302  # the admin's redirect after deleting the user
    expected[leaver_id] = "user_deactivated"
    logins += 2

    # Failed and refused sign-ins, from an address of their own (its own IP budget).
    mallory = Agent(base, source="127.0.2.1")
    answers = [mallory.login("victim", "guess") for _ in range(4)]
    assert answers == [401, 401, 401, 429]

    # --- signals: each ending once, with its reason -------------------------------------
    # Sessions used and left (staff's, the owner's...) also idle out meanwhile, and are
    # reported as such: only "idle" may be among the endings the test did not cause.
    ended = [s for s in signals_sent(signal_log) if s["signal"] == "session_ended"]
    reported = {s["session_id"]: s["reason"] for s in ended}
    assert len(ended) == len(reported), "an ending was reported twice"
    assert {sid: reported.get(sid) for sid in expected} == expected
    assert {r for sid, r in reported.items() if sid not in expected} <= {"idle"}
    starts = [s for s in signals_sent(signal_log) if s["signal"] == "session_started"]
    assert len(starts) == logins
    assert len({s["pid"] for s in starts}) == 2, "both workers should have served sign-ins"

    # --- the events API, the dashboard page, the command --------------------------------
    boss, _ = signed_in(base, "boss")
    listed, cursor = [], ""
    while cursor is not None:
        status, body = boss.call(
            "GET", f"/api/admin/sessions/events?page_size=200&cursor={cursor}"
        )
        assert status == 200, body
        listed += body["results"]
        cursor = body["next_cursor"]
    endings = {r["session_id"]: r["reason"] for r in listed if r["event"] in ("ended", "logout")}
    assert {sid: endings.get(sid) for sid in expected} == expected
    by = {r["session_id"]: r["by"] for r in listed if r["reason"] == "revoked"}
    assert by == {owned_id: "user", target_id: "staff", ops_id: "command"}
    kinds = [r["event"] for r in listed]
    assert kinds.count("login_failed") == 3 and kinds.count("rate_limited") == 1
    for reason in set(expected.values()):
        status, html = boss.call("GET", f"/admin/sessionadmin/activesession/events/?kind={reason}")
        assert status == 200
        for session_id in (s for s, r in expected.items() if r == reason):
            assert session_id in html, (reason, session_id)
    rows = json.loads(command(env, "events", "--json", "--limit", "500", "--since", "10m"))
    lines = {r["session_id"]: r["reason"] for r in rows if r["event"] in ("ended", "logout")}
    assert {sid: lines.get(sid) for sid in expected} == expected

    # --- metrics, added up over both workers (and the command's process) ----------------
    status, values = scrape(base)  # no write from here on: the signal log is final
    assert status == 200
    reported = [s["reason"] for s in signals_sent(signal_log) if s["signal"] == "session_ended"]
    assert metric(values, "sessionadmin_logins_total") == logins + 1  # boss, once more
    assert metric(values, "sessionadmin_login_failures_total") == 3
    assert metric(values, "sessionadmin_login_rate_limited_total") == 1
    for reason in set(reported):
        count = reported.count(reason)
        assert metric(values, "sessionadmin_sessions_ended_total", reason=reason) == count
    for who in ("user", "staff", "command"):
        assert metric(values, "sessionadmin_revocations_total", by=who) == 1
    assert metric(values, "sessionadmin_store_up") == 1
    assert metric(values, "sessionadmin_store_round_trip_seconds_count") > 50
    assert scrape(base, source="127.0.0.3")[0] == 404  # not in METRICS_NETWORKS


def test_a_session_that_changes_network_or_browser_is_flagged_in_both_dashboards(served, users):
    base, _env, _log = served
    mover, mover_id = signed_in(base, "mover")
    status, _ = mover.call("GET", "/api/profile", source="127.0.1.1")  # another /24
    assert status == 200  # "flag" (the default): flagged, not ended
    mover.call("GET", "/api/profile", agent=CHROME_WINDOWS)
    status, body = mover.call("GET", "/api/sessions")
    [own] = [r for r in body["results"] if r["id"] == mover_id]
    assert own["suspicious"] == ["network", "agent"]
    status, page = mover.call("GET", "/accounts/sessions/")
    assert "network changed" in page and "agent changed" in page
    boss, _ = signed_in(base, "boss")
    status, page = boss.call("GET", "/admin/sessionadmin/activesession/")
    assert status == 200 and "network changed" in page and "agent changed" in page
    status, body = boss.call("GET", "/api/admin/sessions/events?kind=suspicious")
    assert [(r["reason"], r["session_id"], r["ip"]) for r in body["results"]] == [
        ("agent", mover_id, "127.0.0.1"),
        ("network", mover_id, "127.0.1.1"),
    ]
    _, values = scrape(base)
    assert metric(values, "sessionadmin_sessions_flagged_total", change="network") == 1
    assert metric(values, "sessionadmin_sessions_flagged_total", change="agent") == 1


def test_with_end_a_moved_session_is_signed_out(users, tmp_path):
    with gunicorn(workers=1, threads=2, SESSION_ON_SUSPICIOUS="end") as (base, _log):
        mover, mover_id = signed_in(base, "mover")
        status, body = mover.call("GET", "/api/profile", source="127.0.1.1")
        assert (status, body["code"]) == (401, "AUTH_REQUIRED")
        status, body = mover.call("GET", "/api/profile")  # from home too: it ended
        assert (status, body["code"]) == (401, "AUTH_REQUIRED")
        boss, _ = signed_in(base, "boss")
        status, body = boss.call("GET", "/api/admin/sessions/events?kind=revoked")
        assert [(r["session_id"], r["by"]) for r in body["results"]] == [(mover_id, "suspicious")]
