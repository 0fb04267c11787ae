"""The sharded key layout (store/keys.py): where sessions land, a guest signing in moving
to the user's shard with its cart, merged listings paged by cursor, and the merged event
log, against the real Redis and database."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections import Counter

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client, override_settings
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from cart.models import Product
from sessionadmin import events
from sessionadmin.backends.redis import SessionStore
from sessionadmin.index import queries
from sessionadmin.store import keys, randomkeys
from tests.helpers import (
    browser,
    client_id,
    grant,
    index_members,
    pause,
    walk_by_cursor,
    walk_by_page,
)

PASSWORD = "correct horse 9"


def login(client: Client, username: str) -> None:
    response = client.post(
        "/api/login", {"username": username, "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200, response.content


def test_the_shard_tags_fall_in_equal_slot_ranges():
    span = REDIS_CLUSTER_HASH_SLOTS / len(keys.shards())
    slots = [key_slot(keys.prefix(n)[1:-1].encode()) for n in keys.shards()]
    assert [int(slot // span) for slot in slots] == list(keys.shards())
    assert len({keys.prefix(n) for n in keys.shards()}) == 16


@pytest.mark.parametrize("shard", [0, 7, 15])
def test_a_drawn_key_is_shaped_as_djangos_and_lands_in_its_shard(shard):
    drawn = [keys.draw_key(shard) for _ in range(200)]
    assert {keys.key_shard(key) for key in drawn} == {shard}
    assert {len(key) for key in drawn} == {32} and len(set(drawn)) == 200
    assert set("".join(drawn)) == set(keys.KEY_CHARS)


def test_random_chars_draws_every_character_evenly():
    # 360,000 characters: each of the 36 about 10,000 times (a standard deviation of
    # about 100); a plain byte % 36 would draw "a" to "d" about 11,250 times each.
    counts = Counter(keys.random_chars(360_000))
    assert set(counts) == set(keys.KEY_CHARS)
    assert max(counts.values()) < 10_700 and min(counts.values()) > 9_300
    assert len({keys.random_chars(32) for _ in range(1000)}) == 1000


def test_random_chars_come_from_the_system_csprng(monkeypatch):
    reads = []

    def token_bytes(n: int) -> bytes:
        reads.append(n)
        return bytes(range(252, 256)) + bytes(range(n - 4))  # the first four unusable

    monkeypatch.setattr(randomkeys.secrets, "token_bytes", token_bytes)
    assert keys.random_chars(32) == (keys.KEY_CHARS * 2)[:32]
    assert reads == [40]


def test_a_session_id_is_the_same_as_ever():
    # Stored sessions are found by their id: an id that changed would lose them all.
    assert keys._hash("abcdefghijklmnop0123456789qrstuv", "a-secret-key") == (
        "0de1238f59ca052a7e1402ce"
    )


@pytest.mark.parametrize("secret", ["a-secret-key", "ü" * 80, ""])
def test_a_session_id_is_hmac_sha256_under_the_derived_key(secret):
    # The id is computed from keyed SHA-256 states (keys._keyed): the same as HMAC's.
    derived = hashlib.sha256(b"sessionadmin.keys.session_id" + secret.encode()).digest()
    for key in [keys.random_chars(32) for _ in range(50)] + ["", "é" * 40]:
        mac = hmac.new(derived, key.encode(), "sha256").hexdigest()
        assert keys._hash(key, secret) == f"{keys.key_shard(key):02x}{mac[:22]}"


def test_every_key_of_a_session_and_its_user_shares_one_slot(make_user, redis):
    user = make_user("alice")
    client = browser(user)
    sid = client_id(client)
    uid = str(user.pk)
    assert keys.id_shard(sid) == keys.user_shard(uid)
    slot = key_slot(keys.session_key_name(sid).encode())
    for name in (
        keys.user_index(uid), keys.single_sessions(uid), keys.user_generation(uid),
        keys.auth_index(keys.id_shard(sid)), keys.users_bucket(uid),
        keys.guest_index(keys.id_shard(sid)),
        keys.sign_in_bucket(sid), keys.events_log(keys.id_shard(sid)),
    ):  # fmt: skip
        assert key_slot(name.encode()) == slot, name


def test_a_guest_signing_in_moves_to_the_users_shard_with_its_cart(make_user, redis):
    alice = make_user("alice")
    lamp = Product.objects.create(name="Lamp", price="12.50", stock=50)
    alice_shard = keys.user_shard(str(alice.pk))
    # New guests until one lands outside alice's shard: the move is then real.
    for _ in range(50):
        client = Client()
        body = json.dumps({"product_id": lamp.pk, "quantity": 2})
        response = client.post("/api/cart/items", body, content_type="application/json")
        assert response.status_code == 200, response.content
        if keys.id_shard(client_id(client)) != alice_shard:
            break
    guest_id = client_id(client)
    assert keys.id_shard(guest_id) != alice_shard
    login(client, "alice")
    signed_in = client_id(client)
    assert keys.id_shard(signed_in) == alice_shard
    assert not redis.exists(keys.session_key_name(guest_id))
    assert guest_id not in index_members(redis, "all")
    assert client.get("/api/cart").json()["total_items"] == 2
    assert client.get("/api/profile").json()["user"]["username"] == "alice"


def test_a_session_given_a_user_without_login_is_moved_to_the_users_shard(redis):
    session = SessionStore()
    session["views"] = 1
    session.save()
    for uid in map(str, range(1, 100)):
        if keys.user_shard(uid) != keys.key_shard(session.session_key):
            break
    old = session.session_key
    session[SESSION_KEY] = uid
    session.save()
    assert session.session_key != old
    assert keys.key_shard(session.session_key) == keys.user_shard(uid)
    assert not SessionStore().exists(old)
    assert SessionStore(session.session_key).load()["views"] == 1


def test_a_token_lands_in_its_users_shard(make_user, redis):
    user = make_user("alice")
    body = {"username": "alice", "password": PASSWORD, "name": "cli"}
    response = Client().post("/api/tokens", body, content_type="application/json")
    assert response.status_code in (200, 201), response.content
    token = response.json()["token"]
    assert keys.key_shard(token) == keys.user_shard(str(user.pk))


@pytest.fixture
def staff(make_user):
    return browser(grant(make_user("boss", is_staff=True), "sessionadmin.view_activesession"))


def pages_by_cursor(staff, **params) -> list[dict]:
    """Every page of GET /api/admin/sessions from the top by cursor, as answered."""
    pages, cursor = [], ""
    while cursor is not None:
        response = staff.get("/api/admin/sessions", {**params, "cursor": cursor})
        assert response.status_code == 200, response.content
        pages.append(response.json())
        cursor = pages[-1]["next_cursor"]
    return pages


def test_the_listing_pages_by_cursor_over_every_shard(redis, make_session, staff):
    made = []
    for number in range(40):
        made.append(keys.session_id(make_session(user_agent=f"pytest/{number}").session_key))
        pause()
    pages = pages_by_cursor(staff, page_size=7)
    walked = [row["id"] for page in pages for row in page["results"]]
    staff_id = client_id(staff)
    assert sorted(walked) == sorted([staff_id, *made])  # none twice, none missed
    assert [w for w in walked if w != staff_id] == list(reversed(made))  # newest first
    assert len(pages) == 6
    assert len({keys.id_shard(sid) for sid in made}) > 8  # spread over the shards
    by_page = [
        row["id"]
        for number in range(1, 8)
        for row in staff.get("/api/admin/sessions", {"page": number, "page_size": 7}).json()[
            "results"
        ]
    ]
    assert by_page == walked


def test_the_guests_alone_page_by_cursor(redis, make_session, staff):
    guests = []
    for number in range(9):
        guests.append(keys.session_id(make_session(user_agent=f"pytest/{number}").session_key))
        pause()
    pages = pages_by_cursor(staff, page_size=4, authenticated="false")
    assert {page["count"] for page in pages} == {9}
    walked = [row["id"] for page in pages for row in page["results"]]
    assert walked == list(reversed(guests))  # the signed-in staff's own session is not one


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "nonsense"},
        {"cursor": "1.5~zz"},
        {"cursor": "nan~" + "0" * 24},
        {"cursor": "", "q": "pytest"},
        {"cursor": "", "kind": "token"},
        {"cursor": "", "user": "boss"},
    ],
)
def test_a_bad_cursor_or_a_filtered_one_is_a_400(staff, params):
    response = staff.get("/api/admin/sessions", params)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert "cursor" in response.json()["fields"]


def test_a_cursor_page_reads_a_bounded_range_from_each_shard(make_session, redis):
    for number in range(60):
        make_session(user_agent=f"pytest/{number}")
    first, after = queries.page_after(authenticated_only=False, cursor=None, count=10)
    second, _ = queries.page_after(authenticated_only=False, cursor=after, count=10)
    assert len(first) == len(second) == 10
    assert first[-1].last_activity >= second[0].last_activity
    assert not {r.id for r in first} & {r.id for r in second}


@override_settings(SESSIONADMIN_EVENTS_MAX=1000)
def test_the_event_log_merges_the_shards_newest_first_by_cursor(make_user, redis):
    for number in range(30):  # failed sign-ins of many addresses: logged in many shards
        events.record("login_failed", ip=f"192.0.2.{number}")
    shards = {keys.user_shard("ip:" + f"192.0.2.{n}") for n in range(30)}
    assert len(shards) > 5
    walked, cursor = [], ""
    while True:
        page, cursor = events.recent(cursor=cursor, limit=4)
        walked += page
        if cursor is None:
            break
    assert len(walked) == 30
    assert len({e.id for e in walked}) == 30
    assert {e.ip for e in walked} == {f"192.0.2.{n}" for n in range(30)}
    # Newest first: entries of one millisecond in several shards go by shard.
    assert all(a.at >= b.at for a, b in itertools.pairwise(walked))


def test_deep_pages_are_found_by_bisection_and_match_the_cursor_walk(make_session, redis):
    for number in range(45):
        make_session(user_agent=f"pytest/{number}")
    walked = walk_by_cursor(count=4)
    by_page = [
        r.id
        for offset in range(0, 48, 4)
        for r in queries.page(authenticated_only=False, offset=offset, count=4)
    ]
    assert by_page == walked
    assert len(walked) == 45
    assert queries.page(authenticated_only=False, offset=45, count=4) == []
    assert [r.id for r in queries.page(authenticated_only=False, offset=44, count=4)] == [
        walked[-1]
    ]


@pytest.mark.parametrize("shards", [16, 1])
def test_pages_and_cursors_hold_with_tied_scores(make_session, redis, settings, shards):
    settings.SESSIONADMIN_SHARDS = shards
    made = [keys.session_id(make_session().session_key) for _ in range(30)]
    tied = float(redis.zscore(keys.guest_index(keys.id_shard(made[0])), made[0]))
    for sid in made:  # all with one score: ties are ordered by id
        redis.zadd(keys.guest_index(keys.id_shard(sid)), {sid: tied}, xx=True)
    walked = walk_by_cursor(count=7)
    assert walked == sorted(made, reverse=True)
    assert walk_by_page(count=7, pages=5) == walked


def guest_outside(user) -> SessionStore:
    """A stored guest session (2 lamps in its cart) in a shard other than ``user``'s."""
    from sessionadmin import items

    while True:
        guest = SessionStore()
        guest["views"] = 1
        guest.save()
        if keys.key_shard(guest.session_key) != keys.user_shard(str(user.pk)):
            items.change_item(
                guest, "cart", "7", 2, add=True, cap=99, max_per_item=99, max_items=50
            )
            return guest


def new_key_for(user, carried) -> SessionStore:
    """The second step of a move: the new key in the user's shard, written."""
    new = SessionStore()
    new._session_key = keys.draw_key(keys.user_shard(str(user.pk)))
    new._session_cache = {SESSION_KEY: str(user.pk), "views": 1}
    new.save(must_create=True)
    return new


def test_a_move_whose_old_session_was_revoked_meanwhile_discards_the_new_one(
    make_user, redis, signals
):
    from django.contrib.sessions.backends.base import UpdateError

    from sessionadmin import services
    from sessionadmin.backends import placement

    alice = make_user("alice")
    guest = guest_outside(alice)
    carried = placement.carried_fields(guest.session_key)  # read, not ended
    assert SessionStore().exists(guest.session_key)
    new = new_key_for(alice, carried)
    services.revoke_session(keys.session_id(guest.session_key), by="staff")  # meanwhile
    signals.clear()
    with pytest.raises(UpdateError):
        placement.end_carried(guest.session_key, new.session_key)
    assert not SessionStore().exists(new.session_key)  # a revocation is never carried on
    assert signals == []  # the discarded key never reached a client: no ending reported


def test_a_session_being_moved_takes_no_change_that_its_end_would_lose(make_user, redis):
    from django.contrib.sessions.backends.base import UpdateError

    from sessionadmin import items
    from sessionadmin.backends import placement

    alice = make_user("alice")
    guest = guest_outside(alice)
    carried = placement.carried_fields(guest.session_key)
    other = SessionStore(guest.session_key)  # a parallel request of the same browser
    other.load()
    with pytest.raises(items.SessionGone):
        items.change_item(other, "cart", "7", 1, add=True, cap=99, max_per_item=99, max_items=50)
    other["views"] = 5
    with pytest.raises(UpdateError):
        other.save()
    new = new_key_for(alice, carried)
    placement.end_carried(guest.session_key, new.session_key)
    assert not SessionStore().exists(guest.session_key)
    assert carried[3:] == [b"i:cart:7", b"2"]  # what the new key got: the change failed


def test_a_failed_move_frees_the_old_session_after_a_few_seconds(make_user, redis):
    from sessionadmin.backends import placement

    alice = make_user("alice")
    guest = guest_outside(alice)
    placement.carried_fields(guest.session_key)  # the move stops after its first step
    old = keys.session_key_name(keys.session_id(guest.session_key))
    redis.hset(old, "mv", int(redis.time()[0]) * 1000 - 6000)  # as if 6 s ago
    again = SessionStore(guest.session_key)
    again["views"] = 2
    again.save()  # takes writes again
    assert SessionStore(guest.session_key).load()["views"] == 2


def test_a_flushed_session_signing_in_again_gets_a_fresh_key(make_user, redis):
    alice = make_user("alice")
    session = SessionStore()
    session["views"] = 1
    session.save()
    session.flush()
    assert session.session_key is None and not session._stored
    session[SESSION_KEY] = str(alice.pk)
    session.save()
    assert keys.key_shard(session.session_key) == keys.user_shard(str(alice.pk))


def test_acreate_draws_the_key_in_the_users_shard(make_user, redis):
    import asyncio

    alice = make_user("alice")
    session = SessionStore()
    session._session_cache = {SESSION_KEY: str(alice.pk)}
    asyncio.run(session.acreate())
    assert keys.key_shard(session.session_key) == keys.user_shard(str(alice.pk))
    assert SessionStore().exists(session.session_key)


@pytest.mark.parametrize("error", ["CLUSTERDOWN The cluster is down", "TRYAGAIN", "READONLY"])
def test_a_failover_refusal_is_the_store_unavailable_not_a_bad_request(error):
    from redis.exceptions import ClusterDownError, ReadOnlyError, TryAgainError

    from sessionadmin.exceptions import SessionStoreUnavailable
    from sessionadmin.store.client import redis_errors

    raised = {
        "CLUSTERDOWN": ClusterDownError,
        "TRYAGAIN": TryAgainError,
        "READONLY": ReadOnlyError,
    }
    with pytest.raises(SessionStoreUnavailable), redis_errors():
        raise raised[error.split()[0]](error)
