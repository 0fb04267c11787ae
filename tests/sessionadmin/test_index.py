"""The index of active sessions stays consistent with the sessions themselves."""

from __future__ import annotations

import time

import pytest
from django.contrib.sessions.backends.base import UpdateError
from django.test import override_settings

from sessionadmin import services
from sessionadmin.backends.redis import SessionStore
from sessionadmin.index import queries as index
from sessionadmin.store import keys
from tests.helpers import guest_write_in_shard, index_members, stored_keys, user_session_ids


def members(redis, key: str) -> set[str]:
    return {m.decode() for m in redis.zrange(key, 0, -1)}


def sid(session: SessionStore) -> str:
    return keys.session_id(session.session_key)


def test_new_session_is_indexed_as_anonymous(redis, make_session):
    session = make_session(cart={"1": 2})
    assert index_members(redis, "all") == {sid(session)}
    assert index_members(redis, "auth") == set()
    assert services.list_sessions().count == 1


def test_login_adds_the_session_to_the_user_indexes(redis, make_session, make_user):
    user = make_user()
    session = make_session(user=user)
    assert index_members(redis, "auth") == {sid(session)}
    assert user_session_ids(redis, str(user.pk)) == {sid(session)}
    assert not redis.exists(keys.user_index(str(user.pk)))  # one session: no set of its own
    assert index_members(redis, "users") == {str(user.pk)}
    record = services.list_user_sessions(user.pk)[0]
    assert record.id == sid(session)
    assert record.login_at is not None


def test_logout_in_place_moves_the_session_out_of_the_user_indexes(redis, make_session, make_user):
    user = make_user()
    session = make_session(user=user)
    del session["_auth_user_id"]
    session.save()
    assert index_members(redis, "auth") == set()
    assert user_session_ids(redis, str(user.pk)) == set()
    assert index_members(redis, "users") == set()
    assert index_members(redis, "all") == {sid(session)}


def test_cycle_key_moves_data_history_and_index_entries(redis, make_session, make_user):
    user = make_user()
    session = make_session(user=user, cart={"3": 1})
    old_id, old_key = sid(session), session.session_key
    before = services.get_session(old_id)
    session.cycle_key()
    new_id = sid(session)
    assert new_id != old_id
    assert not redis.exists(keys.session_key_name(old_id))
    assert index_members(redis, "all") == {new_id}
    assert user_session_ids(redis, str(user.pk)) == {new_id}
    after = services.get_session(new_id)
    assert after.created_at == before.created_at
    assert after.login_at == before.login_at  # cycling never extends the absolute deadline
    assert SessionStore(old_key).load() == {}
    assert SessionStore(session.session_key).load()["cart"] == {"3": 1}


def test_delete_removes_every_index_entry(redis, make_session, make_user):
    user = make_user()
    session = make_session(user=user)
    session.delete()
    for name in ("all", "auth", "users"):
        assert index_members(redis, name) == set()
    assert not redis.exists(keys.user_index(str(user.pk)))
    assert user_session_ids(redis, str(user.pk)) == set()
    assert stored_keys(redis) == set()


def test_a_second_session_moves_the_users_sessions_into_a_set_of_its_own(
    redis, make_session, make_user
):
    user = make_user()
    uid = str(user.pk)
    first = make_session(user=user)
    time.sleep(0.003)
    second = make_session(user=user, _session_expiry=60)  # a TTL shorter than the first's
    assert redis.hget(keys.single_sessions(uid), uid) is None
    scores = dict(redis.zrange(keys.user_index(uid), 0, -1, withscores=True))
    auth = keys.auth_index(keys.user_shard(uid))
    # Each with its activity score, as the shard's ``auth`` set has it.
    assert scores == {sid(s).encode(): redis.zscore(auth, sid(s)) for s in (first, second)}
    # The set outlives its sessions: its TTL is the longest of theirs (the first's).
    assert redis.pttl(keys.session_key_name(sid(second))) <= 60_000
    assert redis.pttl(keys.user_index(uid)) >= redis.pttl(keys.session_key_name(sid(first)))
    assert redis.pttl(keys.session_key_name(sid(first))) > 60_000
    by_score = sorted(scores, key=scores.get, reverse=True)  # the latest-ending first
    assert [r.id.encode() for r in services.list_user_sessions(uid)] == by_score
    first.delete()
    assert user_session_ids(redis, uid) == {sid(second)}
    second.delete()
    assert user_session_ids(redis, uid) == set()
    assert not redis.exists(keys.user_index(uid))
    assert index_members(redis, "users") == set()


def test_a_users_one_session_gone_by_its_ttl_is_replaced_by_the_next(
    redis, make_session, make_user
):
    user = make_user()
    uid = str(user.pk)
    gone = make_session(user=user)
    redis.delete(keys.session_key_name(sid(gone)))  # its TTL ran out; nothing reported it yet
    new = make_session(user=user)
    assert user_session_ids(redis, uid) == {sid(new)}
    assert not redis.exists(keys.user_index(uid))


@override_settings(SESSION_IDLE_TIMEOUT=1, SESSION_TOUCH_INTERVAL=0)
def test_expired_session_is_never_listed_and_later_writes_trim_it(redis, make_session):
    short = make_session()
    short.set_expiry(1)
    short.save()
    time.sleep(1.2)
    kept = make_session()
    listed = [r.id for r in services.list_sessions().results]
    assert listed == [sid(kept)]
    # A listing never removes entries (the next page's ranks would shift); the writes
    # that follow trim an entry once it is older than the idle timeout (and clock slack).
    assert sid(short) in index_members(redis, "all")
    time.sleep(1.0)
    guest_write_in_shard(keys.id_shard(sid(short)))  # a later write in its shard
    assert sid(short) not in index_members(redis, "all")


def test_set_expiry_caps_the_redis_ttl(redis, make_session):
    session = make_session()
    session.set_expiry(30)
    session.save()
    ttl = redis.pttl(keys.session_key_name(sid(session)))
    assert 0 < ttl <= 30_000


@override_settings(SESSION_IDLE_TIMEOUT=20)
def test_ttl_is_never_longer_than_the_idle_timeout(redis, make_session):
    session = make_session()
    assert 0 < redis.pttl(keys.session_key_name(sid(session))) <= 20_000


@override_settings(SESSION_ABSOLUTE_TIMEOUT=5)
def test_ttl_is_never_longer_than_what_remains_of_the_absolute_timeout(
    redis, make_session, make_user
):
    session = make_session(user=make_user())
    assert 0 < redis.pttl(keys.session_key_name(sid(session))) <= 5_000


def test_revoke_while_a_request_is_in_flight_is_final(redis, make_session, make_user):
    user = make_user()
    session = make_session(user=user)
    in_flight = SessionStore(session.session_key)
    assert in_flight.get("_auth_user_id") == str(user.pk)  # loaded, as a request would
    assert services.revoke_session(sid(session)) is True
    in_flight["cart"] = {"9": 1}
    with pytest.raises(UpdateError):
        in_flight.save()
    assert not in_flight.touch()
    assert stored_keys(redis) == set()  # neither the session nor an index entry came back


def test_revoke_user_sessions_keeps_the_given_session(redis, make_session, make_user):
    user, other = make_user(), make_user()
    mine = [make_session(user=user) for _ in range(3)]
    theirs = make_session(user=other)
    assert services.revoke_user_sessions(user.pk, keep=mine[0]) == 2
    assert [r.id for r in services.list_user_sessions(user.pk)] == [sid(mine[0])]
    assert services.get_session(sid(theirs)) is not None
    assert not SessionStore(mine[1].session_key).load()


def test_stats_count_live_sessions(redis, make_session, make_user):
    alice, bob = make_user(), make_user()
    make_session(user=alice)
    make_session(user=alice)
    make_session(user=bob)
    make_session()
    stats = services.session_stats()
    assert stats["active"] == 4
    assert stats["authenticated"] == 3
    assert stats["anonymous"] == 1
    assert stats["users"] == 2
    assert stats["activity"]["60"] == 4


def test_listing_pages_most_recent_first(redis, make_session):
    made = []
    for _ in range(5):
        made.append(make_session())
        time.sleep(0.005)
    first = services.list_sessions(page=1, page_size=2)
    second = services.list_sessions(page=2, page_size=2)
    assert first.count == 5
    newest_first = [sid(s) for s in reversed(made)]
    assert [r.id for r in first.results + second.results] == newest_first[:4]


def test_clearsessions_prunes_index_entries_of_vanished_sessions(redis, make_session):
    from django.core.management import call_command

    session = make_session()
    gone = sid(session)
    redis.zadd(keys.guest_index(keys.id_shard(gone)), {gone: 1})  # an ended session, long ago
    redis.delete(keys.session_key_name(gone))
    call_command("clearsessions")
    assert index_members(redis, "all") == set()


def test_secret_key_rotation_signs_nobody_out(redis, make_session, settings):
    session = make_session(cart={"1": 1})
    old_id = sid(session)
    old_secret = settings.SECRET_KEY
    with override_settings(
        SECRET_KEY="a-new-secret-" + "y" * 40, SECRET_KEY_FALLBACKS=[old_secret]
    ):
        again = SessionStore(session.session_key)
        assert again.load() == {"cart": {"1": 1}}
        new_id = sid(session)
        assert new_id != old_id
        assert redis.exists(keys.session_key_name(new_id))
        assert not redis.exists(keys.session_key_name(old_id))
        assert index_members(redis, "all") == {new_id}


def test_get_session_rejects_malformed_ids(redis):
    assert services.get_session("../../etc") is None
    assert services.revoke_session("*") is False
    assert index.get([]) == []


@override_settings(SESSION_IDLE_TIMEOUT=1, SESSION_TOUCH_INTERVAL=0)
def test_a_users_one_session_ended_by_its_timeout_leaves_the_bucket(
    redis, make_session, make_user
):
    # No TTL of its own there: the trim that reports the ending takes it out.
    user = make_user()
    session = make_session(user=user)
    time.sleep(2.2)  # the idle timeout and the clock slack
    guest_write_in_shard(keys.id_shard(sid(session)))
    assert user_session_ids(redis, str(user.pk)) == set()


def test_a_users_one_session_is_found_by_every_per_user_operation(redis, make_session, make_user):
    from sessionadmin.auth import usercache
    from sessionadmin.index import actions

    user = make_user()
    uid = str(user.pk)
    session = make_session(user=user)
    name = keys.session_key_name(sid(session))
    redis.hset(name, "x", "a cached copy")
    usercache.forget_user(user.pk)  # drops the copy from each of the user's sessions
    assert redis.hget(name, "x") is None
    assert [r.id for r in services.list_user_sessions(uid)] == [sid(session)]
    assert actions.revoke_user(uid) == 1
    assert not redis.exists(name)
    assert user_session_ids(redis, uid) == set()
