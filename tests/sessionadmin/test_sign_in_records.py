"""Sign-in records live in small buckets (keys.sign_in_bucket), which Redis keeps compact;
records that a release before the bucketing kept in one hash per shard (keys.sign_ins)
are still found by every ending, by a new key for the session, and by the sweep."""

from __future__ import annotations

from sessionadmin import services
from sessionadmin.index import upkeep
from sessionadmin.store import keys
from tests.helpers import browser, client_id, sign_in_count
from tests.redis_tools import compact_encoding


def ended(sent) -> list[tuple[str, object, str]]:
    return [(k["session_id"], k["user"], k["reason"]) for n, k in sent if n == "ended"]


def as_an_older_release_kept_it(redis, sid: str) -> None:
    """Move the sign-in record of ``sid`` from its bucket into the shard's one hash."""
    bucket = keys.sign_in_bucket(sid)
    record = redis.hget(bucket, sid)
    assert record is not None
    redis.hdel(bucket, sid)
    redis.hset(keys.sign_ins(keys.id_shard(sid)), sid, record)


def test_a_sign_in_record_is_kept_in_its_bucket_as_a_listpack(make_user, redis):
    alice = make_user("alice")
    sid = client_id(browser(alice))
    bucket = keys.sign_in_bucket(sid)
    assert redis.hget(bucket, sid).split(b"\t")[0] == str(alice.pk).encode()
    assert redis.object("encoding", bucket) == compact_encoding(redis)
    assert not redis.exists(keys.sign_ins(keys.id_shard(sid)))
    assert bucket.startswith(keys.prefix(keys.id_shard(sid)))  # the session's slot


def test_a_record_an_older_release_kept_still_ends_its_session_once(make_user, redis, signals):
    alice = make_user("alice")
    sid = client_id(browser(alice))
    as_an_older_release_kept_it(redis, sid)
    assert services.revoke_session(sid, by="staff") is True
    assert services.revoke_session(sid, by="staff") is False
    assert ended(signals) == [(sid, alice.pk, "revoked")]
    assert sign_in_count(redis) == 0


def test_a_record_an_older_release_kept_moves_with_a_new_key(make_user, redis, signals):
    alice = make_user("alice")
    client = browser(alice)
    old = client_id(client)
    as_an_older_release_kept_it(redis, old)
    session = client.session
    session.cycle_key()
    new = keys.session_id(session.session_key)
    assert redis.hexists(keys.sign_in_bucket(new), new)
    assert sign_in_count(redis) == 1
    assert ended(signals) == []  # the same sign-in, under a new key
    services.revoke_session(new)
    assert [e[0] for e in ended(signals)] == [new]


def test_the_sweep_reads_buckets_and_the_older_hash(make_user, redis, signals):
    sids = [client_id(browser(make_user(name))) for name in ("alice", "bob")]
    as_an_older_release_kept_it(redis, sids[1])
    for sid in sids:  # as a script of an older release did: the record alone stays
        redis.delete(keys.session_key_name(sid))
        redis.zrem(keys.auth_index(keys.id_shard(sid)), sid)
    assert upkeep.sweep_sign_ins() == 2
    assert sorted(e[0] for e in ended(signals)) == sorted(sids)
    assert sign_in_count(redis) == 0


def test_a_record_in_both_places_ends_its_session_once(make_user, redis, signals):
    # A server of the older release, running beside this one for a moment, wrote the
    # record in the shard's one hash as well.
    sid = client_id(browser(make_user("alice")))
    record = redis.hget(keys.sign_in_bucket(sid), sid)
    redis.hset(keys.sign_ins(keys.id_shard(sid)), sid, record)
    services.revoke_session(sid, by="staff")
    assert [e[0] for e in ended(signals)] == [sid]
    assert sign_in_count(redis) == 0
    assert upkeep.sweep_sign_ins() == 0
