"""A sign-in's round trips: the session's write also applies the user's session cap, the
attempt's refund and the browser's trust are one script, sent in the write's round trip,
so a password sign-in makes two (stock Django's makes five; bench/overhead.py counts
both)."""

from __future__ import annotations

import hashlib

import pytest
from django.core import signing
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from redis.exceptions import ResponseError

from accounts.backends import UsernameOrEmailBackend
from sessionadmin import services as sessions
from sessionadmin.auth import limits
from sessionadmin.conf import get_settings
from sessionadmin.store import keys
from sessionadmin.store.client import run_scripts
from sessionadmin.store.scripts import script
from tests.redis_tools import monitor
from tests.settings import TEST_REDIS_DB

PASSWORD = "correct horse 9"


def test_a_sign_in_refunds_its_attempt_and_trusts_the_browser_in_one_step(make_user, redis):
    make_user("bob", password=PASSWORD)
    warm = {"username": "bob", "password": PASSWORD}  # the scripts loaded, as in service
    assert Client().post("/api/login", warm, content_type="application/json").status_code == 200
    user = make_user("alice", password=PASSWORD)
    client = Client(REMOTE_ADDR="203.0.113.9")
    login = {"username": "alice", "password": PASSWORD}
    with monitor(redis, TEST_REDIS_DB) as log:
        response = client.post("/api/login", login, content_type="application/json")
    assert response.status_code == 200
    # Count the attempt; then, in one round trip, refund and trust, write the session and
    # apply the user's cap.
    assert log.names() == ["EVALSHA"] * 3, log.commands
    assert log.reads == 2, log.commands
    assert "refund" in log.commands[1] and "WRITE" not in log.commands[1]
    # Taken back from both buckets...
    for bucket in ("ip:203.0.113.9", f"acct:{user.pk}"):
        assert int(redis.get(keys.login_attempts(bucket)) or 0) == 0, bucket
    # ...and the browser trusted for the account, for the cookie's age.
    conf = get_settings()
    cookie = client.cookies[conf.device_cookie_name].value
    account, _, nonce = (
        signing.Signer(salt="sessionadmin.auth.trusted").unsign(cookie).rpartition(":")
    )
    assert account == f"acct:{user.pk}"
    record = keys.login_attempts("dev:" + hashlib.sha256(nonce.encode()).hexdigest()[:32])
    assert redis.get(record) == account.encode()
    assert conf.device_cookie_age - 5 <= redis.ttl(record) <= conf.device_cookie_age


def test_a_sign_in_on_a_server_without_the_scripts_refunds_and_writes_once(make_user, redis):
    # A restarted Redis has no scripts. The attempt's count loads LOGIN_ATTEMPT; in the
    # pipeline after it, the refund runs and the write finds no script (NOSCRIPT): only
    # the write is loaded and sent again.
    user = make_user("alice", password=PASSWORD)
    client = Client(REMOTE_ADDR="203.0.113.9")
    login = {"username": "alice", "password": PASSWORD}
    limits.count_attempt(None, [f"acct:{user.pk}"])  # an earlier failed attempt stays
    redis.script_flush()
    with monitor(redis, TEST_REDIS_DB) as log:
        response = client.post("/api/login", login, content_type="application/json")
    assert response.status_code == 200
    write = script(redis, "WRITE").sha
    assert len([c for c in log.commands if " refund " in c]) == 1, log.commands
    assert len([c for c in log.commands if c.startswith(f"EVALSHA {write} ")]) == 2
    assert int(redis.get(keys.login_attempts(f"acct:{user.pk}"))) == 1  # its own refunded
    assert int(redis.get(keys.login_attempts("ip:203.0.113.9"))) == 0
    assert len(sessions.list_user_sessions(user.pk)) == 1


def test_pipelined_scripts_that_find_none_are_each_sent_once_more(redis):
    # Writes, so never sent twice: each call that found no script runs once it is loaded.
    hit = ["hit", 10, 60_000]
    calls = [("LOGIN_ATTEMPT", [keys.login_attempts(f"t:{n}")], hit) for n in range(2)]
    redis.script_flush()
    assert run_scripts(calls) == [[1, 0], [1, 0]]
    assert run_scripts(calls) == [[1, 0], [1, 0]]  # loaded now: one round trip
    assert [int(redis.get(keys.login_attempts(f"t:{n}"))) for n in range(2)] == [2, 2]


def test_a_failed_call_ahead_of_the_last_is_raised_after_the_last_ran(redis):
    broken = ("LOGIN_ATTEMPT", [keys.login_attempts("t:0")], ["hit", "not a number", 60_000])
    last = ("LOGIN_ATTEMPT", [keys.login_attempts("t:1")], ["hit", 10, 60_000])
    with pytest.raises(ResponseError):
        run_scripts([broken, last])
    assert int(redis.get(keys.login_attempts("t:1"))) == 1


@pytest.mark.parametrize("name", ["alice", "ALICE@example.com"])
def test_a_sign_in_reads_the_user_once(make_user, redis, name):
    # The login limit reads the user for the account's bucket; the site's backend takes
    # that row (sessionadmin.services.login_lookup) instead of reading it again.
    user = make_user("alice", password=PASSWORD)
    client = Client()
    login = {"username": name, "password": PASSWORD}
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/login", login, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["user"]["id"] == user.pk
    table = user._meta.db_table
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    user_reads = [sql for sql in reads if f'FROM "{table}"' in sql]
    # By name, one read; by email, the username's (no match) then the email's.
    assert len(user_reads) == (1 if name == "alice" else 2), user_reads
    assert len(queries.captured_queries) == len(reads) + 1  # and last_login's UPDATE


def test_the_backend_reads_the_user_itself_when_the_limit_did_not(make_user, redis):
    user = make_user("alice", password=PASSWORD)
    backend = UsernameOrEmailBackend()
    with CaptureQueriesContext(connection) as queries:
        found = backend.authenticate(None, username="Alice@Example.com", password=PASSWORD)
    assert found == user
    assert len(queries.captured_queries) == 2  # by username (none), then by email
    assert backend.authenticate(None, username="alice", password="wrong") is None


def test_a_lookup_serves_only_the_name_and_field_it_was_read_for(make_user, rf):
    alice = make_user("alice")
    make_user("bob")
    request = rf.post("/api/login")
    assert limits.account_bucket(" alice ", request) == f"acct:{alice.pk}"
    assert [user.pk for user in sessions.login_lookup(request, "username", "alice")] == [alice.pk]
    assert sessions.login_lookup(request, "username", " alice ") is None  # never read as such
    assert sessions.login_lookup(request, "email", "alice") is None  # the username matched
    assert sessions.login_lookup(request, "username", "bob") is None
    limits.account_bucket("bob", request)  # another sign-in in the same request
    assert sessions.login_lookup(request, "username", "alice") is None
    assert sessions.login_lookup(None, "username", "alice") is None
