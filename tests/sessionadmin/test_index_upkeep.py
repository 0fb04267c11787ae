"""The index keeps itself small with no scheduled job: every write trims dead entries,
per-user sets always expire, the user-agent tables stay bounded and age out, and ended
signed-in sessions keep their entry long enough to be told why they ended."""

from __future__ import annotations

import secrets
import time
from collections import Counter

import pytest
from django.test import override_settings

from sessionadmin.backends.redis import ClientInfo, SessionStore
from sessionadmin.conf import get_settings
from sessionadmin.index import upkeep
from sessionadmin.store import keys
from sessionadmin.store.client import now_ms
from sessionadmin.store.scripts import script
from tests.helpers import index_sets, user_session_ids

pytestmark = pytest.mark.usefixtures("redis")

AUTH = "django.contrib.auth.backends.ModelBackend"


def index_size(redis, name: str) -> int:
    """Entries of one index set, every shard; "all": both activity sets (guests, auth)."""
    names = ("guests", "auth") if name == "all" else (name,)
    return sum(
        redis.zcard(index)
        for shard in keys.shards()
        for n in names
        for index in index_sets(shard, n)
    )


def key_pool(needed: Counter) -> dict[int, list[str]]:
    """Random session keys, ``needed[shard]`` of them in each shard (a hash apiece)."""
    pool: dict[int, list[str]] = {shard: [] for shard in needed}
    missing = sum(needed.values())
    while missing:
        key = secrets.token_hex(16)
        found = pool.get(keys.key_shard(key))
        if found is not None and len(found) < needed[keys.key_shard(key)]:
            found.append(key)
            missing -= 1
    return pool


def write_sessions(
    redis, count: int, *, signed_in: bool, first_uid: int = 1, agent=None, shard=None
):  # fmt: skip
    """Write ``count`` sessions through the engine's own write script, pipelined."""
    write = script(redis, "WRITE")
    # Signed-in sessions in their users' shards; guests spread evenly over the shards (as
    # heavy traffic does), or in one. Keys are found first: the writes then take a short
    # time, well inside the idle timeout some tests set.
    wanted = [
        keys.user_shard(str(first_uid + n)) if signed_in
        else (n % len(keys.shards()) if shard is None else shard)
        for n in range(count)
    ]  # fmt: skip
    pool = key_pool(Counter(wanted))
    session_keys = [pool[wanted_shard].pop() for wanted_shard in wanted]
    pipe = redis.pipeline(transaction=False)
    for n in range(count):
        store = SessionStore()
        store._session_key = session_keys[n]
        store.client = ClientInfo("10.0.0.1", agent(n) if agent else "pytest")
        data = (
            {"_auth_user_id": str(first_uid + n), "_auth_user_backend": AUTH} if signed_in else {}
        )
        store._session_cache = data
        script_keys, args = store.write_call("create", data)
        write(keys=script_keys, args=args, client=pipe)
        if n % 1000 == 999:
            pipe.execute()
    pipe.execute()


# An idle timeout (and clock slack) of 3 s: the 20,000 writes take about 4 s on a busy
# machine, and must all be live when counted.
@override_settings(SESSION_IDLE_TIMEOUT=3, SESSIONADMIN_INDEX_GRACE=1)
def test_twenty_thousand_expired_sessions_are_trimmed_by_a_thousand_writes(redis):
    write_sessions(redis, 10_000, signed_in=False)
    write_sessions(redis, 10_000, signed_in=True)
    assert index_size(redis, "all") == 20_000
    conf = get_settings()
    # All of them ended: past the idle timeout, the clock slack and the grace period.
    time.sleep(conf.idle_timeout + conf.clock_slack + conf.index_grace + 0.5)
    write_sessions(redis, 500, signed_in=False)
    write_sessions(redis, 500, signed_in=True, first_uid=50_000)
    sizes = {name: index_size(redis, name) for name in ("all", "auth", "users")}
    print("index sizes after 1,000 writes:", sizes)
    assert all(size < 1_100 for size in sizes.values()), sizes


@override_settings(SESSIONADMIN_SHARDS=1)  # one shard's table, filled past its cap
def test_a_flood_of_distinct_agents_keeps_the_agent_tables_bounded_and_expiring(redis):
    write_sessions(redis, 20_500, signed_in=False, agent=lambda n: f"Junk/{n:08d} " + "x" * 60)
    tables = list(redis.scan_iter(match=keys.prefix(0) + ":ua*"))  # tests only: no SCAN in code
    assert 1 <= len(tables) <= 2  # the current hour (and the last, across a boundary)
    idle = get_settings().idle_timeout
    for table in tables:
        assert redis.hlen(table) <= 20_000
        # It ages out: an idle timeout (and a minute) after its hour ends, at the latest.
        assert 0 < redis.pttl(table) <= (3600 + idle + 60) * 1000
    assert sum(redis.hlen(t) for t in tables) <= 20_000 * len(tables)
    # Past the cap an agent is kept inline; the session still lists it as sent.
    assert redis.hlen(tables[0]) == 20_000 or len(tables) == 2


@pytest.mark.parametrize("sessions", [1, 2])
def test_a_session_moved_from_an_old_secret_key_stays_its_users_with_the_sets_ttl(
    redis, settings, sessions
):
    old_secret = settings.SECRET_KEY
    for _ in range(sessions):
        session = SessionStore()
        session.update({"_auth_user_id": "77", "_auth_user_backend": AUTH})
        session.save()
    key = session.session_key
    if sessions > 1:
        redis.persist(keys.user_index("77"))  # as REKEY used to leave it
    with override_settings(
        SECRET_KEY="a-new-secret-" + "y" * 40, SECRET_KEY_FALLBACKS=[old_secret]
    ):
        moved = SessionStore(key)
        assert moved["_auth_user_id"] == "77"  # found under the old id, moved to the new
        assert keys.session_id(key) in user_session_ids(redis, "77")
        assert len(user_session_ids(redis, "77")) == sessions
        if sessions > 1:
            assert 0 < redis.pttl(keys.user_index("77")) <= get_settings().idle_timeout * 1000


@override_settings(SESSION_IDLE_TIMEOUT=1)
def test_an_ended_signed_in_session_keeps_its_auth_entry_through_the_grace_period(redis):
    session = SessionStore()
    session.update({"_auth_user_id": "5", "_auth_user_backend": AUTH})
    session.save()
    sid = keys.session_id(session.session_key)
    time.sleep(1.2)  # ended by its TTL
    assert not redis.exists(keys.session_key_name(sid))
    # Another login of the same user applies the limit and cleans the user's set; a prune
    # runs too: neither removes what tells the late request why its session ended.
    other = SessionStore()
    other.update({"_auth_user_id": "5", "_auth_user_backend": AUTH})
    other.save()
    from sessionadmin.index.actions import enforce_limit

    enforce_limit("5", 10, keys.session_id(other.session_key))
    upkeep.prune()
    assert redis.zscore(keys.auth_index(keys.id_shard(sid)), sid) is not None
    late = SessionStore(session.session_key)
    assert late.load() == {}
    assert late.ended_by == "idle"


def test_write_trims_only_entries_older_than_the_idle_timeout(redis):
    conf = get_settings()
    old = now_ms() - (conf.idle_timeout + conf.clock_slack + 5) * 1000
    recent = now_ms() - 1000
    # Ids in shard 0, written to by a guest session of shard 0.
    redis.zadd(keys.guest_index(0), {"00" + "a" * 22: old, "00" + "b" * 22: recent})
    write_sessions(redis, 1, signed_in=False, shard=0)
    members = {m.decode() for m in redis.zrange(keys.guest_index(0), 0, -1)}
    assert "00" + "a" * 22 not in members
    assert "00" + "b" * 22 in members


@override_settings(SESSION_ABSOLUTE_TIMEOUT=1, SESSION_IDLE_TIMEOUT=60)
def test_counts_and_listings_hold_live_sessions_and_their_users_only(make_session, make_user):
    from sessionadmin import services

    for name in ("ann", "ben"):
        make_session(user=make_user(name))
    time.sleep(1.2)  # both ended at their absolute deadline, well inside the idle window
    guest = make_session()
    stats = services.session_stats()
    assert (stats["active"], stats["authenticated"], stats["anonymous"], stats["users"]) == (
        1,
        0,
        1,
        0,
    )
    listed = services.list_sessions()
    assert listed.count == 1
    assert [r.id for r in listed.results] == [keys.session_id(guest.session_key)]


def test_prune_moves_an_older_releases_users_index_into_its_buckets(
    redis, make_user, make_session
):
    # Releases before the buckets kept one sorted set of users a shard: prune moves its
    # live entries into their buckets (a batch a call) and drops the dead ones.
    from sessionadmin.index import queries

    user = make_user()
    make_session(user=user)
    uid, shard = str(user.pk), keys.user_shard(str(user.pk))
    legacy, now = keys.legacy_users_index(shard), now_ms()
    ids = (f"{uid}x{n}" for n in range(100_000))
    ours = [i for i in ids if keys.user_shard(i) == shard][: upkeep.PRUNE_BATCH + 20]
    live = {member: now - n for n, member in enumerate(ours[1:], 1)}
    gone = ours[0]
    redis.zadd(legacy, {**live, gone: now - (get_settings().idle_timeout + 3600) * 1000})
    redis.zadd(legacy, {uid: now - 5000})  # older than its bucket's entry
    upkeep.prune()
    assert not redis.exists(legacy)
    for member, score in live.items():
        assert redis.zscore(keys.users_bucket(member), member) == score
    assert redis.zscore(keys.users_bucket(gone), gone) is None
    assert redis.zscore(keys.users_bucket(uid), uid) > now - 5000  # the newer kept (GT)
    assert queries.counts(users=True)["users"] == len(live) + 1


def test_a_users_bucket_is_the_same_in_lua_and_python(redis, make_user, make_session):
    users = [str(make_session(user=make_user()).get("_auth_user_id")) for _ in range(20)]
    for uid in users:
        assert redis.zscore(keys.users_bucket(uid), uid) is not None
        assert keys.users_bucket(uid) in index_sets(keys.user_shard(uid), "users")
    assert len({keys.users_bucket(uid) for uid in users}) > 10  # spread over the buckets


def test_prune_drops_a_users_one_session_whose_end_nothing_reported(redis):
    # Gone with no sign-in record to name its user (as an older release could leave it):
    # no trim can take it out of the bucket; prune does.
    session = SessionStore()
    session.update({"_auth_user_id": "88", "_auth_user_backend": AUTH})
    session.save()
    sid = keys.session_id(session.session_key)
    kept = SessionStore()
    kept.update({"_auth_user_id": "89", "_auth_user_backend": AUTH})
    kept.save()
    redis.delete(keys.session_key_name(sid), keys.sign_in_bucket(sid))
    assert user_session_ids(redis, "88") == {sid}
    upkeep.prune()
    assert user_session_ids(redis, "88") == set()
    assert user_session_ids(redis, "89") == {keys.session_id(kept.session_key)}
