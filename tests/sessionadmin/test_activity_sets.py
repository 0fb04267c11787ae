"""One activity set per session: ``guests`` or ``auth``, never both; a signed-in session
ended by its timeout is reported once and left in ``auth`` as a tombstone for the grace
period; listings and searches merge the two sets; the set an older release kept every
session in is removed by the prune."""

from __future__ import annotations

import time

from django.test import override_settings

from sessionadmin.backends.redis import ClientInfo, SessionStore
from sessionadmin.index import queries, upkeep
from sessionadmin.store import keys
from sessionadmin.store.client import now_ms
from tests.helpers import browser, client_id, guest_write_in_shard, index_members, pause, sid

BACKEND = "django.contrib.auth.backends.ModelBackend"


def sets_holding(redis, session_id: str) -> list[str]:
    shard = keys.id_shard(session_id)
    return [
        name
        for name, index in (("guests", keys.guest_index(shard)), ("auth", keys.auth_index(shard)))
        if redis.zscore(index, session_id) is not None
    ]


def ended(sent) -> list[tuple[str, str]]:
    return [(k["session_id"], k["reason"]) for n, k in sent if n == "ended"]


def test_a_session_is_in_one_set_as_it_signs_in_and_out_under_one_key(make_user, redis):
    user = make_user("alice")
    store = SessionStore()
    store.client = ClientInfo("10.0.0.1", "pytest")
    store._session_key = keys.draw_key(keys.user_shard(str(user.pk)))
    store["views"] = 1
    store.save(must_create=True)
    session_id = keys.session_id(store.session_key)
    assert sets_holding(redis, session_id) == ["guests"]
    # Signed in without a new key (a project's own code may do this): moved over.
    store.update(
        {
            "_auth_user_id": str(user.pk),
            "_auth_user_backend": BACKEND,
            "_auth_user_hash": user.get_session_auth_hash(),
        }
    )
    store.save()
    assert sets_holding(redis, session_id) == ["auth"]
    for name in ("_auth_user_id", "_auth_user_backend", "_auth_user_hash"):
        del store[name]
    store.save()
    assert sets_holding(redis, session_id) == ["guests"]


@override_settings(SESSION_IDLE_TIMEOUT=1, SESSION_TOUCH_INTERVAL=0, SESSIONADMIN_INDEX_GRACE=2)
def test_a_session_ended_by_its_timeout_is_reported_once_then_kept_as_a_tombstone(
    make_user, redis, signals
):
    client = browser(make_user("alice"))
    session_id = client_id(client)
    shard = keys.id_shard(session_id)
    time.sleep(2.2)  # past the idle timeout and the clock slack (1 s each)
    guest_write_in_shard(shard)  # another write's trim finds it ended
    assert ended(signals) == [(session_id, "idle")]
    assert redis.zscore(keys.auth_index(shard), session_id) < 0  # a tombstone
    assert session_id not in index_members(redis, "all")
    assert queries.counts()["authenticated"] == 0
    guest_write_in_shard(shard)  # the next trim passes it by
    assert ended(signals) == [(session_id, "idle")]
    # The tombstone tells the late request which timeout ended its session.
    response = client.get("/api/session")
    assert (response.status_code, response.json()["reason"]) == (401, "idle")
    time.sleep(2.1)  # past the grace period too
    guest_write_in_shard(shard)
    assert redis.zscore(keys.auth_index(shard), session_id) is None


def test_a_search_walks_both_sets_as_one_newest_first(
    make_user, make_session, redis, settings, monkeypatch
):
    settings.SESSIONADMIN_SHARDS = 1
    monkeypatch.setattr(queries, "SEARCH_BATCH", 3)
    monkeypatch.setattr(queries, "SEARCH_MAX", 6)
    made = []
    for number in range(10):
        user = make_user(f"user{number}") if number % 3 == 0 else None
        made.append(sid(make_session(user=user, user_agent="pytest/1")))
        pause()
    assert {len(sets_holding(redis, s)) for s in made} == {1}
    found = queries.search(needle="pytest", count=50)
    assert [r.id for r in found.records] == list(reversed(made))[:6]
    assert found.complete is False
    assert [r.id for r in queries.page(authenticated_only=False, offset=0, count=10)] == list(
        reversed(made)
    )
    assert queries.counts()["active"] == 10
    assert queries.counts()["authenticated"] == 4


def test_the_prune_removes_the_set_an_older_release_kept_every_session_in(redis):
    legacy = keys.legacy_all_index(3)
    redis.zadd(legacy, {"03" + "a" * 22: now_ms()})
    upkeep.prune()
    assert not redis.exists(legacy)
