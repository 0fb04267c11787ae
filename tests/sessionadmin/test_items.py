"""Item counts kept with a session (``sessionadmin.items``), on real sessions in real Redis."""

from __future__ import annotations

import pytest

from sessionadmin import items
from sessionadmin.store import keys

NS = "cart"
LIMITS = {"cap": 10, "max_per_item": 5, "max_items": 3}


def change(session, item: str, quantity: int, *, add: bool = True, **limits) -> dict[str, int]:
    return items.change_item(session, NS, item, quantity, add=add, **{**LIMITS, **limits})


def item_fields(redis, session) -> dict[bytes, bytes]:
    """The session hash's item fields, read straight from Redis."""
    name = keys.session_key_name(keys.session_id(session.session_key))
    return {k: v for k, v in redis.hgetall(name).items() if k.startswith(b"i:")}


def test_add_creates_and_adds_to_an_item(redis, make_session):
    session = make_session()
    assert items.get_items(session, NS) == {}
    assert change(session, "7", 2) == {"7": 2}
    assert change(session, "7", 1) == {"7": 3}
    assert change(session, "8", 1) == {"7": 3, "8": 1}
    assert items.get_items(session, NS) == {"7": 3, "8": 1}
    assert item_fields(redis, session) == {b"i:cart:7": b"3", b"i:cart:8": b"1"}


def test_set_replaces_the_quantity(redis, make_session):
    session = make_session()
    change(session, "7", 4)
    assert change(session, "7", 2, add=False) == {"7": 2}
    assert change(session, "9", 1, add=False) == {"7": 2, "9": 1}


def test_namespaces_are_separate(redis, make_session):
    session = make_session()
    change(session, "1", 2)
    items.change_item(session, "wishlist", "1", 1, add=True, **LIMITS)
    assert items.get_items(session, NS) == {"1": 2}
    assert items.get_items(session, "wishlist") == {"1": 1}
    items.clear_items(session, NS)
    assert items.get_items(session, "wishlist") == {"1": 1}


def test_over_the_cap_raises_and_keeps_the_current_quantity(redis, make_session):
    session = make_session()
    change(session, "7", 4, cap=5)
    with pytest.raises(items.OverCap) as raised:
        change(session, "7", 2, cap=5)
    assert raised.value.current == 4
    assert not isinstance(raised.value, items.OverItemLimit)
    with pytest.raises(items.OverCap) as raised:
        change(session, "7", 6, add=False, cap=5)
    assert raised.value.current == 4
    assert items.get_items(session, NS) == {"7": 4}
    with pytest.raises(items.OverCap) as raised:
        change(session, "8", 6, cap=5)  # a new item over the cap is not created
    assert raised.value.current == 0
    assert items.get_items(session, NS) == {"7": 4}


def test_over_the_per_item_maximum_raises_over_item_limit(redis, make_session):
    session = make_session()
    change(session, "7", 5)
    with pytest.raises(items.OverItemLimit) as raised:
        change(session, "7", 1)
    assert raised.value.current == 5
    with pytest.raises(items.OverItemLimit):
        change(session, "7", 6, add=False)
    assert items.get_items(session, NS) == {"7": 5}


def test_too_many_distinct_items(redis, make_session):
    session = make_session()
    for item in ("1", "2", "3"):
        change(session, item, 1)
    with pytest.raises(items.TooManyItems):
        change(session, "4", 1)
    assert items.get_items(session, NS) == {"1": 1, "2": 1, "3": 1}
    # An item already there can still change; a removed one frees a place.
    assert change(session, "3", 1)["3"] == 2
    items.remove_item(session, NS, "1")
    assert change(session, "4", 1) == {"2": 1, "3": 2, "4": 1}


def test_remove_and_clear(redis, make_session):
    session = make_session()
    change(session, "1", 1)
    change(session, "2", 2)
    assert items.remove_item(session, NS, "1") == {"2": 2}
    assert items.remove_item(session, NS, "404") == {"2": 2}  # absent: nothing happens
    items.clear_items(session, NS)
    assert items.get_items(session, NS) == {}
    assert item_fields(redis, session) == {}
    assert redis.exists(keys.session_key_name(keys.session_id(session.session_key)))


def test_take_empties_and_restore_merges_with_items_added_meanwhile(redis, make_session):
    session = make_session()
    change(session, "1", 2)
    change(session, "2", 1)
    taken = items.take_items(session, NS)
    assert taken == {"1": 2, "2": 1}
    assert items.get_items(session, NS) == {}
    assert items.take_items(session, NS) == {}  # a second taker gets nothing
    change(session, "1", 3)  # added while the taken items were out
    change(session, "3", 1)
    items.restore_items(session, NS, taken)
    assert items.get_items(session, NS) == {"1": 5, "2": 1, "3": 1}


def test_items_do_not_touch_the_payload_and_the_payload_save_keeps_items(redis, make_session):
    session = make_session(views=1)
    change(session, "1", 2)
    session["views"] = 2
    session.save()
    assert items.get_items(session, NS) == {"1": 2}
    change(session, "1", 1)
    reloaded = type(session)(session.session_key)
    assert reloaded["views"] == 2
    assert items.get_items(reloaded, NS) == {"1": 3}


def test_items_survive_cycle_key(redis, make_session):
    session = make_session()
    change(session, "1", 2)
    change(session, "2", 1)
    old_key = session.session_key
    session.cycle_key()
    assert session.session_key != old_key
    assert items.get_items(session, NS) == {"1": 2, "2": 1}
    assert not redis.exists(keys.session_key_name(keys.session_id(old_key)))
    assert items.get_items(type(session)(old_key), NS) == {}


def test_items_vanish_with_delete(redis, make_session):
    session = make_session()
    change(session, "1", 2)
    name = keys.session_key_name(keys.session_id(session.session_key))
    session.delete()
    assert not redis.exists(name)
    assert items.get_items(session, NS) == {}


@pytest.mark.parametrize(
    "operation",
    [
        lambda s: change(s, "1", 1),
        lambda s: change(s, "1", 1, add=False),
        lambda s: items.remove_item(s, NS, "1"),
        lambda s: items.clear_items(s, NS),
        lambda s: items.take_items(s, NS),
    ],
    ids=["add", "set", "remove", "clear", "take"],
)
def test_a_deleted_session_raises_session_gone_and_writes_nothing(redis, make_session, operation):
    session = make_session(views=3)
    change(session, "1", 2)
    session.delete()
    before = redis.dbsize()
    keys_before = set(redis.keys("*"))
    with pytest.raises(items.SessionGone):
        operation(session)
    assert redis.dbsize() == before
    assert set(redis.keys("*")) == keys_before
    assert not redis.exists(keys.session_key_name(keys.session_id(session.session_key)))


def test_restore_on_a_deleted_session_writes_nothing(redis, make_session):
    session = make_session()
    change(session, "1", 2)
    taken = items.take_items(session, NS)
    session.delete()
    before = redis.dbsize()
    # Revocation is final: the items stay gone, and the caller is told so.
    with pytest.raises(items.SessionGone):
        items.restore_items(session, NS, taken)
    assert redis.dbsize() == before
    assert not redis.exists(keys.session_key_name(keys.session_id(session.session_key)))


def test_a_session_that_was_never_saved_is_created_for_its_first_item(redis):
    from sessionadmin.backends.redis import SessionStore

    session = SessionStore()
    assert items.get_items(session, NS) == {}
    assert redis.dbsize() == 0  # reading creates nothing
    assert change(session, "1", 1) == {"1": 1}
    assert session.session_key is not None
    assert items.get_items(SessionStore(session.session_key), NS) == {"1": 1}


# --- Another session engine: the items live in the session's data ----------------------


def test_with_django_s_own_engine_the_items_follow_the_same_rules_in_the_payload(redis):
    from django.contrib.sessions.backends.cache import SessionStore as DjangoCacheStore

    session = DjangoCacheStore()
    limits = {"cap": 5, "max_per_item": 4, "max_items": 2}
    assert items.get_items(session, "cart") == {}
    assert items.change_item(session, "cart", "7", 2, add=True, **limits) == {"7": 2}
    assert items.change_item(session, "cart", "7", 1, add=True, **limits) == {"7": 3}
    with pytest.raises(items.OverItemLimit) as over:
        items.change_item(session, "cart", "7", 2, add=True, **limits)
    assert over.value.current == 3
    with pytest.raises(items.OverCap):
        items.change_item(session, "cart", "7", 6, add=False, **{**limits, "max_per_item": 9})
    assert items.change_item(session, "cart", "8", 1, add=False, **limits) == {"7": 3, "8": 1}
    with pytest.raises(items.TooManyItems):
        items.change_item(session, "cart", "9", 1, add=True, **limits)
    session.save()  # stored by Django's engine, as any of its values
    again = DjangoCacheStore(session.session_key)
    assert items.get_items(again, "cart") == {"7": 3, "8": 1}
    assert items.remove_item(again, "cart", "8") == {"7": 3}
    assert items.take_items(again, "cart") == {"7": 3}
    assert items.get_items(again, "cart") == {}
    items.restore_items(again, "cart", {"7": 3})
    assert items.get_items(again, "cart") == {"7": 3}
    items.clear_items(again, "cart")
    assert items.get_items(again, "cart") == {}
    assert not redis.keys("*:s:*"), "nothing written to the sessionadmin store"
