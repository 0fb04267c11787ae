"""Revocation is final on every path: a key cycled after a revoke, a stale key saved, a
failed bookkeeping write, a checkout's cart given back, revoke-all by a user's id, and
the logs that record it."""

from __future__ import annotations

import logging

import pytest
from django.contrib.sessions.backends.base import UpdateError
from django.test import override_settings

from sessionadmin import items, services
from sessionadmin.backends.redis import SessionStore
from sessionadmin.conf import get_settings
from sessionadmin.logging import STORE_DOWN_ATTR, DropStoreUnavailable
from sessionadmin.store import keys
from tests.helpers import browser, client_id, every_master, grant, sid

pytestmark = [pytest.mark.urls("tests.urls"), pytest.mark.usefixtures("redis")]


def session_hashes(redis) -> list[bytes]:
    # Every shard's (on a cluster, every master's). Tests only: no SCAN in code.
    return list(redis.scan_iter(match="{" + get_settings().key_prefix + ":*}:s:*"))


def test_cycle_key_of_a_session_revoked_meanwhile_fails_and_recreates_nothing(
    make_user, make_session, redis
):
    user = make_user()
    made = make_session(user=user, note="kept")
    loaded = SessionStore(made.session_key)
    assert loaded["note"] == "kept"  # loaded before the revoke, as a request in flight
    assert services.revoke_session(sid(made))
    with pytest.raises(UpdateError):
        loaded.cycle_key()
    assert session_hashes(redis) == []
    assert services.list_user_sessions(user.pk) == []
    assert loaded.session_key is None and not loaded.modified


def test_a_password_change_racing_a_revoke_does_not_bring_the_session_back(make_user, redis):
    user = make_user()
    client = browser(user)
    response = client.post("/api/test/revoke-then-cycle")
    assert response.status_code == 400
    assert response.json()["code"] == "SESSION_INTERRUPTED"
    assert session_hashes(redis) == []
    assert not client.get("/api/session").json()["authenticated"]


def test_cycle_key_of_a_live_session_still_moves_it(make_user, make_session, redis):
    made = make_session(user=make_user(), note="kept")
    old_id = sid(made)
    made.cycle_key()
    assert sid(made) != old_id
    assert not redis.exists(keys.session_key_name(old_id))
    assert SessionStore(made.session_key)["note"] == "kept"


def test_saving_a_store_made_with_a_stale_key_creates_a_new_session(redis):
    stale = SessionStore("stalekey0123456789abcdefghijklmn")
    stale["views"] = 1
    stale.save()  # AttributeError ('NoneType' ... 'encode') before
    assert stale.session_key not in (None, "stalekey0123456789abcdefghijklmn")
    assert SessionStore(stale.session_key)["views"] == 1
    assert not redis.exists(
        keys.session_key_name(keys.session_id("stalekey0123456789abcdefghijklmn"))
    )


@override_settings(SESSION_TOUCH_INTERVAL=0)
def test_a_failed_lazy_touch_keeps_the_finished_response(make_user, redis):
    client = browser(make_user())
    assert client.get("/api/session").status_code == 200
    key = keys.session_key_name(client_id(client))
    activity = redis.hget(key, "a")
    # The view finishes, then Redis refuses writes for longer than the client waits: the
    # touch after the view fails. Its response (an order placed, say) must stand.
    try:
        response = client.get("/test/pause-redis-after")
    finally:
        redis.client_unpause(**every_master(redis))
    assert response.status_code == 200
    assert response.json() == {"done": True}
    assert redis.hget(key, "a") == activity  # the touch was due, and did fail
    assert client.get("/api/session").json()["authenticated"] is True


def test_giving_items_back_to_a_session_that_ended_is_refused(make_session, redis):
    session = make_session()
    items.change_item(session, "cart", "7", 2, add=True, cap=10, max_per_item=10, max_items=5)
    taken = items.take_items(session, "cart")
    assert taken == {"7": 2}
    services.revoke_session(sid(session))
    with pytest.raises(items.SessionGone):
        items.restore_items(session, "cart", taken)
    assert session_hashes(redis) == []


def test_giving_items_back_to_a_live_session_restores_them(make_session):
    session = make_session()
    items.change_item(session, "cart", "7", 2, add=True, cap=10, max_per_item=10, max_items=5)
    taken = items.take_items(session, "cart")
    items.restore_items(session, "cart", taken)
    assert items.get_items(session, "cart") == {"7": 2}


def test_revoke_all_of_a_user_uses_the_resolved_id(make_user):
    boss = grant(make_user("boss", is_staff=True), "sessionadmin.revoke_activesession")
    alice = make_user("alice")
    victim = browser(alice)
    # "007" names user 7 only after resolving; the index knows the user as "7".
    padded = f"00{alice.pk}"
    response = browser(boss).post(f"/api/admin/users/{padded}/revoke-sessions")
    assert response.status_code == 200, response.content
    assert response.json() == {"revoked": 1}
    assert services.get_session(client_id(victim)) is None


def test_the_dashboard_revokes_all_of_a_user_by_the_resolved_id(make_user):
    boss = make_user("boss", is_staff=True, is_superuser=True)
    alice = make_user("alice")
    victim = browser(alice)
    response = browser(boss).post(
        f"/admin/sessionadmin/activesession/user/00{alice.pk}/revoke/", {"confirm": "yes"}
    )
    assert response.status_code == 302
    assert services.get_session(client_id(victim)) is None


def _record(status: int, request: object) -> logging.LogRecord:
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "x", (), None)
    record.status_code = status
    record.request = request
    return record


def test_the_outage_filter_drops_only_redis_503s():
    class Request:
        pass

    store_down, database_down = Request(), Request()
    setattr(store_down, STORE_DOWN_ATTR, True)
    drop = DropStoreUnavailable()
    assert drop.filter(_record(503, store_down)) is False
    assert drop.filter(_record(503, database_down)) is True  # /healthz with the DB down
    assert drop.filter(_record(500, database_down)) is True
