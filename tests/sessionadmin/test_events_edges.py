"""The edges of "each signed-in session ends exactly once": endings racing the TTL, a slow
app-server clock, thousands at once, signing in again, records left by older scripts;
and the inputs of the event log and the hijack checks that could be abused."""

from __future__ import annotations

import time

import pytest
from django.test import Client, override_settings

from sessionadmin import events, services
from sessionadmin.index import actions, upkeep
from sessionadmin.store import keys
from tests.helpers import browser, client_id, grant, guest_write_in_shard, sign_in_count

PASSWORD = "correct horse 9"


def endings(sent) -> list[tuple[str, str, str]]:
    return [(k["session_id"], k["reason"], k["by"]) for n, k in sent if n == "ended"]


@override_settings(SESSION_IDLE_TIMEOUT=1)
def test_revoking_a_session_whose_ttl_just_fired_reports_its_timeout(make_user, redis, signals):
    sid = client_id(browser(make_user("alice")))
    time.sleep(1.1)  # gone by its TTL; the trim has not come by yet
    assert not redis.exists(keys.session_key_name(sid))
    assert services.revoke_session(sid, by="staff") is False
    assert endings(signals) == [(sid, "idle", "")]
    assert not redis.hexists(keys.sign_in_bucket(sid), sid)


@override_settings(SESSION_MAX_PER_USER=0)
def test_thousands_of_endings_in_one_script_are_all_reported(
    make_user, make_session, redis, signals
):
    user = make_user("alice")
    for _ in range(3000):
        make_session(user=user)
    signals.clear()
    assert services.revoke_user_sessions(user.pk, by="staff") == 3000
    assert len(endings(signals)) == 3000
    assert sign_in_count(redis) == 0


def test_an_entry_written_by_a_slow_clock_is_rescored_not_reported(make_user, redis, signals):
    user = make_user("alice")
    client = browser(user)
    sid = client_id(client)
    # Its last write came from an app server 200 s behind: scored as long ended.
    redis.zadd(keys.auth_index(keys.id_shard(sid)), {sid: time.time() * 1000 - 200_000 - 1800_000})
    guest_write_in_shard(keys.id_shard(sid))  # another write's trim reaches it
    assert endings(signals) == []
    assert (
        redis.zscore(keys.auth_index(keys.id_shard(sid)), sid)
        > time.time() * 1000 - 1800_000 - 5_000
    )
    assert client.get("/api/profile").status_code == 200
    assert client.post("/api/logout").status_code == 200
    assert [e[:2] for e in endings(signals)] == [(sid, "logout")]


def test_signing_in_again_on_the_same_session_starts_nothing_new(make_user, redis, signals):
    make_user("alice")
    client = Client()
    for _ in range(2):
        client.post(
            "/api/login", {"username": "alice", "password": PASSWORD},
            content_type="application/json",
        )  # fmt: skip
    client.post("/api/logout")
    assert [name for name, _ in signals] == ["started", "ended"]
    assert [e.event for e in events.recent()[0]] == ["logout", "login", "login"]


def test_prune_reports_a_sign_in_record_an_older_script_left_behind(make_user, redis, signals):
    sid = client_id(browser(make_user("alice")))
    # As a script of an older release did: the session and its index entries go, the
    # sign-in record stays.
    redis.delete(keys.session_key_name(sid))
    redis.zrem(keys.auth_index(keys.id_shard(sid)), sid)
    upkeep.prune()
    assert [e[:2] for e in endings(signals)] == [(sid, "idle")]
    assert sign_in_count(redis) == 0


def test_the_signal_says_who_revoked(make_user, redis, signals):
    sid = client_id(browser(make_user("alice")))
    services.revoke_session(sid, by="command")
    assert endings(signals) == [(sid, "revoked", "command")]


@pytest.mark.parametrize("cursor", ["١-١", "0-0", "0-0-3", "99999999999999-0-0-0", " "])
def test_a_cursor_redis_cannot_use_is_a_400(make_user, redis, cursor):
    staff = browser(grant(make_user("boss", is_staff=True), "sessionadmin.view_activesession"))
    response = staff.get("/api/admin/sessions/events", {"cursor": cursor})
    assert response.status_code in (200, 400)
    if cursor.strip():
        assert response.status_code == 400
        assert response.json()["code"] == "VALIDATION_ERROR"
    page = staff.get("/admin/sessionadmin/activesession/events/", {"cursor": cursor})
    assert page.status_code in (200, 302)


@override_settings(LOGIN_RATE_LIMIT="1/15m")
def test_a_flood_of_refused_sign_ins_is_logged_once_a_minute(make_user, redis):
    make_user("alice")
    client = Client(REMOTE_ADDR="198.51.100.9")
    statuses = [
        client.post(
            "/api/login", {"username": "alice", "password": "wrong"},
            content_type="application/json",
        ).status_code
        for _ in range(20)
    ]  # fmt: skip
    assert statuses[0] == 401 and set(statuses[1:]) == {429}
    assert len(events.recent(kind="rate_limited")[0]) == 1
    assert len(events.recent(kind="login_failed")[0]) == 1


def test_ipv4_mapped_loopback_may_read_the_metrics(redis):
    assert Client().get("/metrics", REMOTE_ADDR="::ffff:127.0.0.1").status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="::ffff:10.0.0.1").status_code == 404


def test_ipv4_against_ipv6_is_no_evidence_of_another_network(make_user, redis):
    make_user("alice")
    client = Client(REMOTE_ADDR="198.51.100.7")
    client.post(
        "/api/login", {"username": "alice", "password": PASSWORD},
        content_type="application/json",
    )  # fmt: skip
    client.get("/api/profile", REMOTE_ADDR="2001:db8::7")
    assert events.recent(kind="suspicious")[0] == []


@override_settings(SESSION_ON_SUSPICIOUS="end")
def test_a_token_may_change_network(make_user, redis):
    make_user("alice")
    issued = Client(REMOTE_ADDR="203.0.113.5").post(
        "/api/tokens", {"username": "alice", "password": PASSWORD, "name": "CI"},
        content_type="application/json",
    )  # fmt: skip
    assert issued.status_code == 201, issued.content
    token = issued.json()["token"]
    moved = Client().get(
        "/api/profile", HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR="192.0.2.77"
    )
    assert moved.status_code == 200
    assert events.recent(kind="suspicious")[0] == []


def test_flag_of_a_gone_session_is_refused(redis):
    assert actions.flag("0" * 24, "network", "192.0.2.1", "Firefox on Linux") is False


def test_a_slow_scored_session_stays_in_every_set_and_is_revoked_with_its_user(
    make_user, redis, signals
):
    user = make_user("alice")
    slow, other = browser(user), browser(user)
    sid = client_id(slow)
    long_ago = time.time() * 1000 - 40 * 60_000 - 1800_000  # its writer's clock 40 min behind
    shard = keys.id_shard(sid)
    for index in (keys.auth_index(shard), keys.user_index(str(user.pk))):
        redis.zadd(index, {sid: long_ago})
    for _ in range(30):  # older dead entries of its shard ahead of it in the trims' first 25
        redis.zadd(keys.guest_index(shard), {sid[:2] + f"{_:022x}": long_ago - 1})
        redis.zadd(keys.auth_index(shard), {sid[:2] + f"{_:022x}": long_ago - 1})
    other.post("/api/session/keepalive")  # the same user's write trims its sets
    guest_write_in_shard(shard)  # and others' writes reach it in `auth`
    guest_write_in_shard(shard)
    assert redis.zscore(keys.user_index(str(user.pk)), sid) is not None
    assert redis.zscore(keys.auth_index(keys.id_shard(sid)), sid) > 0  # live, no tombstone
    assert services.revoke_user_sessions(user.pk, by="staff") == 2
    assert slow.get("/api/profile").status_code == 401
    assert sorted(e[0] for e in endings(signals)) == sorted([sid, client_id(other)])


def test_a_session_without_a_ttl_is_not_reported_ended(make_user, redis, signals):
    sid = client_id(browser(make_user("alice")))
    redis.persist(keys.session_key_name(sid))
    redis.zadd(keys.auth_index(keys.id_shard(sid)), {sid: 1000})
    upkeep.prune()
    assert endings(signals) == []
    assert redis.hexists(keys.sign_in_bucket(sid), sid)


def test_the_sweep_counts_what_it_reported(make_user, redis, signals):
    sid = client_id(browser(make_user("alice")))
    redis.delete(keys.session_key_name(sid))
    redis.zrem(keys.auth_index(keys.id_shard(sid)), sid)
    from sessionadmin.store.client import run_script

    reply = run_script(
        "SWEEP",
        keys.shard_keys(keys.id_shard(sid)),
        [keys.prefix(keys.id_shard(sid)), sid, sid, "f" * 24],
    )
    assert events.script_status(reply) == 1
    assert len(endings(signals)) == 1
