"""``manage.py sessions list|show|revoke|stats|prune`` against the real Redis."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from sessionadmin import services
from sessionadmin.conf import get_settings
from sessionadmin.store import keys
from sessionadmin.store.client import now_ms
from tests.helpers import SESSION_KEYS, index_members, sid

PROJECT = Path(__file__).resolve().parents[2]
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
UNKNOWN_ID = "f" * keys.ID_HEX_CHARS


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("sessions", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def members(redis, key: str) -> set[str]:
    return {m.decode() for m in redis.zrange(key, 0, -1)}


@pytest.fixture
def scene(redis, make_user, make_session):
    """Oldest to newest: a curl guest, alice on Firefox, a guest, bob, alice again."""
    alice, bob = make_user("alice"), make_user("bob")
    made = {}
    for name, kwargs in [
        ("guest_curl", {"ip": "192.0.2.10", "user_agent": "curl/8.5.0"}),
        ("alice_ff", {"user": alice, "ip": "198.51.100.5", "user_agent": FIREFOX}),
        ("guest", {"ip": "192.0.2.20", "user_agent": FIREFOX}),
        ("bob", {"user": bob, "ip": "203.0.113.1", "user_agent": "pytest"}),
        ("alice_2", {"user": alice, "ip": "203.0.113.2", "user_agent": "pytest"}),
    ]:
        made[name] = make_session(**kwargs)
        time.sleep(0.005)
    ids = {name: sid(session) for name, session in made.items()}
    return {"ids": ids, "alice": alice, "bob": bob, "raw": [s.session_key for s in made.values()]}


def newest_first(ids: dict[str, str], *names: str) -> list[str]:
    return [ids[name] for name in names]


# --- list -------------------------------------------------------------------------------


def test_list_prints_a_table(scene):
    output = run("list")
    lines = output.splitlines()
    assert lines[0].split() == [
        "ID", "KIND", "USER", "DEVICE", "IP", "LAST_ACTIVITY", "REQUESTS"
    ]  # fmt: skip
    body = lines[1:-1]
    ids = scene["ids"]
    assert [line.split()[0] for line in body] == newest_first(
        ids, "alice_2", "bob", "guest", "alice_ff", "guest_curl"
    )
    by_id = {line.split()[0]: line for line in body}
    assert "alice" in by_id[ids["alice_ff"]]
    assert "Firefox on Linux" in by_id[ids["alice_ff"]]
    assert "198.51.100.5" in by_id[ids["alice_ff"]]
    assert "anonymous" in by_id[ids["guest_curl"]]
    assert by_id[ids["bob"]].split()[1] == "browser"
    assert "bob" in by_id[ids["bob"]]
    assert lines[-1] == "5 session(s)"
    for raw in scene["raw"]:
        assert raw not in output


def test_list_json_is_a_list_of_session_objects(scene):
    rows = json.loads(run("list", "--json"))
    assert isinstance(rows, list)
    assert len(rows) == 5
    for row in rows:
        assert set(row) == SESSION_KEYS
    ids = scene["ids"]
    assert [row["id"] for row in rows] == newest_first(
        ids, "alice_2", "bob", "guest", "alice_ff", "guest_curl"
    )
    firefox = rows[3]
    assert firefox["user"] == {"id": scene["alice"].pk, "username": "alice"}
    assert firefox["device"] == "Firefox on Linux"
    assert firefox["ip"] == "198.51.100.5"
    assert rows[4]["user"] is None


@pytest.mark.parametrize("by", ["username", "id"])
def test_list_user(scene, by):
    value = "alice" if by == "username" else str(scene["alice"].pk)
    rows = json.loads(run("list", "--user", value, "--json"))
    assert [row["id"] for row in rows] == newest_first(scene["ids"], "alice_2", "alice_ff")


def test_list_unknown_user_is_an_error(scene):
    with pytest.raises(CommandError, match="no such user"):
        run("list", "--user", "nobody")


def test_list_anonymous_and_authenticated(scene):
    ids = scene["ids"]
    guests = json.loads(run("list", "--anonymous", "--json"))
    assert [row["id"] for row in guests] == newest_first(ids, "guest", "guest_curl")
    assert all(row["user"] is None for row in guests)
    signed_in = json.loads(run("list", "--authenticated", "--json"))
    assert [row["id"] for row in signed_in] == newest_first(ids, "alice_2", "bob", "alice_ff")
    assert all(row["user"] is not None for row in signed_in)


def test_list_anonymous_and_authenticated_exclude_each_other(scene):
    with pytest.raises(CommandError):
        run("list", "--anonymous", "--authenticated")


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("192.0.2", ["guest", "guest_curl"]),
        ("FIREFOX", ["guest", "alice_ff"]),
        ("bob", ["bob"]),
        ("nothing-like-it", []),
    ],
)
def test_list_search(scene, search, expected):
    rows = json.loads(run("list", "--search", search, "--json"))
    assert [row["id"] for row in rows] == newest_first(scene["ids"], *expected)


def test_list_limit(scene):
    rows = json.loads(run("list", "--limit", "1", "--json"))
    assert [row["id"] for row in rows] == [scene["ids"]["alice_2"]]
    table = run("list", "--limit", "2").splitlines()
    assert table[-1] == "2 session(s)"
    assert len(table) == 4


@pytest.mark.parametrize("limit", ["0", "-1", "10001"])
def test_list_limit_out_of_range_is_an_error(scene, limit):
    with pytest.raises(CommandError, match="--limit"):
        run("list", "--limit", limit)


def test_list_more_than_one_page(redis, make_session):
    made = []
    for _ in range(5):
        made.append(sid(make_session()))
        time.sleep(0.005)
    # --limit above the page size of the service is read page by page.
    rows = json.loads(run("list", "--limit", "250", "--json"))
    assert [row["id"] for row in rows] == list(reversed(made))


# --- show -------------------------------------------------------------------------------


def test_show(scene):
    target = scene["ids"]["alice_ff"]
    output = run("show", target)
    fields = {}
    for line in output.splitlines():
        name, _, value = line.strip().partition(": ")
        fields[name] = value
    assert fields["id"] == target
    assert fields["user"] == "alice"
    assert fields["ip"] == "198.51.100.5"
    assert fields["device"] == "Firefox on Linux"
    assert fields["user_agent"] == FIREFOX
    for raw in scene["raw"]:
        assert raw not in output


def test_show_json(scene):
    target = scene["ids"]["guest_curl"]
    row = json.loads(run("show", target, "--json"))
    assert set(row) == SESSION_KEYS
    assert row["id"] == target
    assert row["user"] is None
    assert row["ip"] == "192.0.2.10"
    assert row["user_agent"] == "curl/8.5.0"


@pytest.mark.parametrize("target", ["nope", UNKNOWN_ID])
def test_show_unknown_is_an_error(scene, target):
    with pytest.raises(CommandError, match="no active session") as caught:
        run("show", target)
    assert caught.value.returncode != 0


# --- revoke -----------------------------------------------------------------------------


def test_revoke_one(scene, redis):
    ids = scene["ids"]
    output = run("revoke", ids["bob"])
    assert output.strip() == "revoked 1 session(s)"
    assert services.get_session(ids["bob"]) is None
    assert not redis.exists(keys.session_key_name(ids["bob"]))
    assert ids["bob"] not in index_members(redis, "all")
    assert services.list_user_sessions(scene["bob"].pk) == []
    assert len(services.list_sessions().results) == 4
    with pytest.raises(CommandError, match="no active session"):
        run("show", ids["bob"])


def test_revoke_is_recorded_in_the_audit_log(scene, caplog):
    ids = scene["ids"]
    # At WARNING, which production's root logger keeps: one line per session, by id.
    with caplog.at_level(logging.WARNING, logger="sessionadmin.audit"):
        run("revoke", ids["guest"], ids["bob"])
    records = [r for r in caplog.records if r.name == "sessionadmin.audit"]
    assert [r.getMessage() for r in records] == [
        f"manage.py sessions revoke: session {ids['guest']} ended",
        f"manage.py sessions revoke: session {ids['bob']} ended",
    ]
    assert all(r.levelno == logging.WARNING for r in records)
    for raw in scene["raw"]:
        assert raw not in caplog.text


def test_revoke_json(scene):
    ids = scene["ids"]
    assert json.loads(run("revoke", ids["guest"], ids["bob"], "--json")) == {
        "revoked": 2,
        "not_found": 0,
    }
    assert services.get_session(ids["guest"]) is None
    assert services.get_session(ids["bob"]) is None


def test_revoke_with_an_unknown_id_fails_after_revoking_the_valid_one(scene):
    ids = scene["ids"]
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 of the given ids") as caught:
        call_command("sessions", "revoke", ids["guest"], UNKNOWN_ID, stdout=out)
    assert caught.value.returncode != 0
    assert "revoked 1 session(s)" in out.getvalue()
    assert services.get_session(ids["guest"]) is None
    assert services.get_session(ids["guest_curl"]) is not None


@pytest.mark.parametrize("bad", ["notanid", "*", "F" * keys.ID_HEX_CHARS])
def test_revoke_malformed_id_is_an_error_and_revokes_nothing(scene, bad):
    ids = scene["ids"]
    with pytest.raises(CommandError, match="not a session id"):
        run("revoke", ids["guest"], bad)
    assert services.get_session(ids["guest"]) is not None
    assert len(services.list_sessions().results) == 5


def test_revoke_user(scene):
    ids = scene["ids"]
    output = run("revoke", "--user", "alice")
    assert output.strip() == "revoked 2 session(s)"
    assert services.list_user_sessions(scene["alice"].pk) == []
    remaining = [r.id for r in services.list_sessions().results]
    assert remaining == newest_first(ids, "bob", "guest", "guest_curl")


def test_revoke_unknown_user_is_an_error(scene):
    with pytest.raises(CommandError, match="no such user"):
        run("revoke", "--user", "nobody")
    assert len(services.list_sessions().results) == 5


def test_revoke_all_anonymous(scene):
    ids = scene["ids"]
    output = run("revoke", "--all-anonymous")
    assert output.strip() == "revoked 2 session(s)"
    remaining = [r.id for r in services.list_sessions().results]
    assert remaining == newest_first(ids, "alice_2", "bob", "alice_ff")
    assert services.session_stats()["anonymous"] == 0


def test_revoke_all_anonymous_across_many_batches(redis, make_user, make_session, monkeypatch):
    from sessionadmin.index import search as index

    monkeypatch.setattr(index, "SEARCH_BATCH", 3)
    user = make_user("carol")
    signed_in = [sid(make_session(user=user)) for _ in range(4)]
    guests = [sid(make_session()) for _ in range(8)]
    assert len(guests) == 8
    assert json.loads(run("revoke", "--all-anonymous", "--json"))["revoked"] == 8
    assert sorted(r.id for r in services.list_sessions().results) == sorted(signed_in)


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--user", "alice", "--all-anonymous"),
        ("{guest}", "--all-anonymous"),
        ("{guest}", "--user", "alice"),
    ],
)
def test_revoke_needs_exactly_one_kind_of_target(scene, args):
    ids = scene["ids"]
    with pytest.raises(CommandError, match="one of them"):
        run("revoke", *(a.format(guest=ids["guest"]) for a in args))
    assert len(services.list_sessions().results) == 5


# --- stats, prune -----------------------------------------------------------------------


def test_stats(scene):
    output = run("stats")
    fields = {}
    for line in output.splitlines():
        name, _, value = line.strip().partition(": ")
        fields[name] = value
    assert fields["active"] == "5"
    assert fields["authenticated"] == "3"
    assert fields["anonymous"] == "2"
    assert fields["users"] == "2"
    assert fields["last 1 min"] == "5"
    assert fields["last 24 h"] == "5"


def test_stats_json(scene):
    stats = json.loads(run("stats", "--json"))
    assert {k: stats[k] for k in ("active", "authenticated", "anonymous", "users")} == {
        "active": 5,
        "authenticated": 3,
        "anonymous": 2,
        "users": 2,
    }
    assert stats["activity"] == {"60": 5, "300": 5, "900": 5, "3600": 5, "86400": 5}


@pytest.mark.parametrize("age", ["past the idle timeout", "past the grace period"])
def test_prune_drops_the_entry_of_a_vanished_session(scene, redis, age):
    ids = scene["ids"]
    gone = ids["alice_ff"]
    redis.delete(keys.session_key_name(gone))  # its hash vanished (as by its TTL) ...
    conf = get_settings()
    seconds = conf.idle_timeout + 60
    if age == "past the grace period":
        seconds = conf.idle_timeout + conf.index_grace + 60
    old = now_ms() - seconds * 1000  # ... and its last activity is that long ago
    shard = keys.id_shard(gone)
    redis.zadd(keys.auth_index(shard), {gone: old}, xx=True)
    assert gone in index_members(redis, "all")
    output = run("prune")
    assert output.strip() == "pruned 1 index entry"
    assert gone not in index_members(redis, "all")
    # The auth entry tells a late request which timeout ended the session: it stays for
    # the grace period after the idle timeout, then goes too.
    past_grace = age == "past the grace period"
    assert (gone in index_members(redis, "auth")) is not past_grace
    others = {v for k, v in ids.items() if k != "alice_ff"}
    assert index_members(redis, "all") == others
    assert run("prune").strip() == "pruned 0 index entries"


def test_prune_keeps_live_sessions(scene, redis):
    before = index_members(redis, "all")
    assert run("prune").strip() == "pruned 0 index entries"
    assert index_members(redis, "all") == before
    assert len(services.list_sessions().results) == 5


# --- the real command line --------------------------------------------------------------


def test_manage_py_exits_non_zero_with_the_reason(redis):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    completed = subprocess.run(
        [sys.executable, "manage.py", "sessions", "show", "nope"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode != 0
    assert "no active session with id 'nope'" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert completed.stdout == ""
