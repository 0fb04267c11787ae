"""The process's memo of public session ids (store/idmemo.py): the ids keys.session_id
gives, no session key held, emptied when what an id depends on changes."""

from __future__ import annotations

import hashlib

from django.test import override_settings

from sessionadmin.store import idmemo, keys, randomkeys


def test_an_id_from_the_memo_is_the_keyed_hash_of_the_key():
    drawn = [randomkeys.random_chars(32) for _ in range(100)]
    first = [idmemo.session_id(key) for key in drawn]
    again = [idmemo.session_id(key) for key in drawn]  # found in the memo this time
    assert first == again == [keys.session_id(key) for key in drawn]
    assert len(set(first)) == 100


def test_the_memo_holds_ids_and_keyed_digests_never_a_session_key():
    key = randomkeys.random_chars(32)
    sid = idmemo.session_id(key)
    tags = [tag for tag, found in idmemo._ids.items() if found == sid]
    assert len(tags) == 1
    (tag,) = tags
    assert all(type(item) is bytes and len(item) == 16 for item in idmemo._ids)
    assert key not in idmemo._ids.values()
    # Keyed by this process's own secret: not a digest anyone could compute from a cookie.
    unkeyed = [hashlib.blake2s(key.encode(), digest_size=16).digest()]
    unkeyed.append(hashlib.sha256(key.encode()).digest()[:16])
    assert tag not in unkeyed


def test_a_new_secret_key_gives_the_new_id_and_the_old_one_after():
    key = randomkeys.random_chars(32)
    old = idmemo.session_id(key)
    with override_settings(SECRET_KEY="another-secret-" + "z" * 40):
        new = idmemo.session_id(key)
        assert new == keys.session_id(key)
        assert new != old
    assert idmemo.session_id(key) == old


def test_a_new_number_of_shards_gives_the_id_of_the_new_layout():
    key = randomkeys.random_chars(32)
    idmemo.session_id(key)
    with override_settings(SESSIONADMIN_SHARDS=3):
        sid = idmemo.session_id(key)
        assert sid == keys.session_id(key)
        assert int(sid[:2], 16) < 3


def test_the_memo_stays_within_its_bound(monkeypatch):
    monkeypatch.setattr(idmemo, "MAX_IDS", 50)
    for _ in range(120):
        key = randomkeys.random_chars(32)
        assert idmemo.session_id(key) == keys.session_id(key)
        assert len(idmemo._ids) <= 50
