"""The process's memo of public session ids (store/idmemo.py): the ids keys.session_id
gives, no session key held, started afresh when what an id depends on changes."""

from __future__ import annotations

import hashlib

from django.test import override_settings

from sessionadmin.store import idmemo, keys, randomkeys


def memo() -> dict[bytes, str]:
    return idmemo._memo[1]


def test_a_key_seen_before_is_found_in_the_memo_with_the_same_id(monkeypatch):
    drawn = [randomkeys.random_chars(32) for _ in range(100)]
    first = [idmemo.session_id(key) for key in drawn]
    assert first == [keys.session_id(key) for key in drawn]
    assert len(set(first)) == 100
    hashed = []
    real = keys.session_id
    monkeypatch.setattr(keys, "session_id", lambda key: hashed.append(key) or real(key))
    assert [idmemo.session_id(key) for key in drawn] == first
    assert hashed == []  # none hashed again
    idmemo.session_id(randomkeys.random_chars(32))
    assert len(hashed) == 1


def test_the_memo_holds_ids_and_keyed_digests_never_a_session_key():
    key = randomkeys.random_chars(32)
    sid = idmemo.session_id(key)
    tags = [tag for tag, found in memo().items() if found == sid]
    assert len(tags) == 1
    assert all(type(tag) is bytes and len(tag) == 16 for tag in memo())
    for item in [*memo(), *memo().values()]:
        text = item if isinstance(item, str) else item.decode("latin-1")
        assert key not in text and key[:16] not in text
    # Keyed by this process's own secret: not a digest anyone could compute from a cookie.
    unkeyed = {hashlib.blake2s(key.encode(), digest_size=16).digest()}
    unkeyed.add(hashlib.sha256(key.encode()).digest()[:16])
    assert tags[0] not in unkeyed


def test_a_new_secret_key_gives_the_new_ids_and_the_old_ones_after():
    drawn = [randomkeys.random_chars(32) for _ in range(20)]
    old = [idmemo.session_id(key) for key in drawn]
    with override_settings(SECRET_KEY="another-secret-" + "z" * 40):
        new = [idmemo.session_id(key) for key in drawn]
        assert new == [keys.session_id(key) for key in drawn]
        assert not set(new) & set(old)
    assert [idmemo.session_id(key) for key in drawn] == old


def test_a_new_number_of_shards_gives_the_ids_of_the_new_layout():
    drawn = [randomkeys.random_chars(32) for _ in range(20)]
    before = [idmemo.session_id(key) for key in drawn]
    with override_settings(SESSIONADMIN_SHARDS=3):
        after = [idmemo.session_id(key) for key in drawn]
        assert after == [keys.session_id(key) for key in drawn]
        assert {int(sid[:2], 16) for sid in after} <= {0, 1, 2}
    assert after != before


def test_the_memo_stays_within_its_bound(monkeypatch):
    monkeypatch.setattr(idmemo, "MAX_IDS", 50)
    for _ in range(120):
        key = randomkeys.random_chars(32)
        assert idmemo.session_id(key) == keys.session_id(key)
        assert len(memo()) <= 50
