"""The compact session hash: auth fields out of the payload, long user agents by reference.

A signed-in session keeps the user id in ``u``, the auth backend as a 4-hex-digit code in
``b`` and the session auth hash as 32 raw bytes in ``h``, so every value stays short and
Redis keeps the hash as a listpack; ``l`` (signed in at) only when that is not ``c``
(created at). User agents longer than 40 bytes live once in the ``{prefix}:ua:<hour>``
table of the hour; the session keeps a reference (8 raw bytes of its SHA-1). Loading
gives back what Django wrote, and what earlier releases wrote still loads.
"""

from __future__ import annotations

import hashlib
import time
from decimal import Decimal

import orjson
import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.test import Client, override_settings

from cart.models import Product
from sessionadmin import services
from sessionadmin.backends.redis import SessionStore
from sessionadmin.index import search as index
from sessionadmin.store import keys
from sessionadmin.store.codec import join_auth_fields, split_auth_fields
from tests.redis_tools import compact_encoding

pytestmark = pytest.mark.urls("tests.urls")

PASSWORD = "correct horse 9"
BACKEND = "accounts.backends.UsernameOrEmailBackend"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SHORT = "curl/8.5.0"
AGENT_TABLE_MAX = 20_000


def cookie(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def redis_key(client: Client) -> str:
    return keys.session_key_name(keys.session_id(cookie(client)))


def hour() -> int:
    return int(time.time() * 1000) // 3_600_000


def agents_key(username: str = "alice") -> str:
    """The agent table of the current hour (agent.lua) in the user's shard."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=username)
    return f"{keys.prefix(keys.user_shard(str(user.pk)))}:ua:{hour()}"


def ref(agent: str) -> bytes:
    digest = hashlib.sha1(agent.encode()).digest()[:8]  # noqa: S324
    return f"\x01{hour()}:".encode() + digest


def old_ref(agent: str) -> bytes:
    """A reference as releases before wrote it: 16 hex digits."""
    digest = hashlib.sha1(agent.encode()).hexdigest()[:16]  # noqa: S324
    return f"\x01{hour()}:{digest}".encode()


def api_login(client: Client, username: str) -> None:
    response = client.post(
        "/api/login",
        {"username": username, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content


def listed_agent(client: Client) -> str:
    record = services.get_session(keys.session_id(cookie(client)))
    assert record is not None
    return record.user_agent


@pytest.fixture
def alice(make_user, redis):
    return make_user("alice")


# --- The hash of a signed-in session --------------------------------------------------


def test_a_typical_signed_in_session_is_a_compact_listpack(alice, redis):
    client = Client(HTTP_USER_AGENT=CHROME)
    api_login(client, "alice")
    key = redis_key(client)
    stored = redis.hgetall(key)
    assert stored[b"u"] == str(alice.pk).encode()
    assert stored[b"b"] == hashlib.sha256(BACKEND.encode()).hexdigest()[:4].encode()
    assert len(stored[b"b"]) == 4
    assert b"l" not in stored and b"c" in stored  # signed in as it was made
    assert stored[b"h"] == bytes.fromhex(alice.get_session_auth_hash())
    assert len(stored[b"h"]) == 32
    assert b"d" not in stored  # nothing but the auth fields: no payload at all
    assert stored[b"ua"] == ref(CHROME)

    products = [
        Product.objects.create(name=f"Item {n}", price=Decimal("9.50"), stock=50) for n in range(3)
    ]
    for quantity, product in enumerate(products, start=1):
        response = client.post(
            "/api/cart/items",
            {"product_id": product.pk, "quantity": quantity},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
    assert len(client.get("/api/cart").json()["items"]) == 3
    body = client.get("/api/session").json()  # stores a payload and the cached user
    assert body["user"]["username"] == "alice"

    stored = redis.hgetall(key)
    assert {f"i:cart:{p.pk}".encode() for p in products} <= set(stored)
    assert b"x" in stored
    copy = stored[b"x"] + stored.get(b"x1", b"")
    assert len(stored[b"x"]) == min(len(copy), 63)  # the longest with a 1-byte header
    # is_superuser, username, email, is_staff, is_active, date_joined: booleans as 0/1.
    assert copy.split(b"[", 1)[1].startswith(b'0,"alice","alice@example.com",0,1,')
    payload = orjson.loads(stored[b"d"])
    assert payload == {"views": 1}
    assert not any(b"_auth_user" in value for value in stored.values())
    assert all(len(value) <= 64 for value in stored.values()), stored
    assert redis.object("encoding", key) == compact_encoding(redis)


def test_a_signed_in_session_loads_exactly_what_django_wrote(alice, redis):
    client = Client()
    client.force_login(alice)
    session = SessionStore(cookie(client))
    assert session[SESSION_KEY] == str(alice.pk)
    assert session[BACKEND_SESSION_KEY] == BACKEND
    assert session[HASH_SESSION_KEY] == alice.get_session_auth_hash()
    assert dict(session.items()) == {
        SESSION_KEY: str(alice.pk),
        BACKEND_SESSION_KEY: BACKEND,
        HASH_SESSION_KEY: alice.get_session_auth_hash(),
    }
    stored = redis.hgetall(redis_key(client))
    assert b"d" not in stored


def test_values_of_another_shape_stay_in_the_payload_and_load_back(alice, make_session, redis):
    odd_hash = "Z" * 64
    session = make_session(
        user=alice,
        _auth_user_backend=MODEL_BACKEND,  # not in AUTHENTICATION_BACKENDS
        _auth_user_hash=odd_hash,
        cart_note="gift",
    )
    stored = redis.hgetall(keys.session_key_name(keys.session_id(session.session_key)))
    assert stored[b"u"] == str(alice.pk).encode()
    assert b"b" not in stored and b"h" not in stored
    assert orjson.loads(stored[b"d"]) == {
        BACKEND_SESSION_KEY: MODEL_BACKEND,
        HASH_SESSION_KEY: odd_hash,
        "cart_note": "gift",
    }
    loaded = SessionStore(session.session_key)
    assert dict(loaded.items()) == {
        SESSION_KEY: str(alice.pk),
        BACKEND_SESSION_KEY: MODEL_BACKEND,
        HASH_SESSION_KEY: odd_hash,
        "cart_note": "gift",
    }


# --- split_auth_fields / join_auth_fields ---------------------------------------------


def round_trip(data: dict) -> tuple[dict, tuple]:
    original = dict(data)
    rest, user_id, code, raw = split_auth_fields(data)
    assert data == original  # the caller's dict is never changed
    payload = orjson.loads(orjson.dumps(rest))  # as stored
    return join_auth_fields(payload, user_id, code, raw or b""), (rest, user_id, code, raw)


GOOD_HASH = "0123456789abcdef" * 4


def test_split_takes_the_auth_fields_out_compactly():
    data = {
        SESSION_KEY: "42",
        BACKEND_SESSION_KEY: BACKEND,
        HASH_SESSION_KEY: GOOD_HASH,
        "views": 3,
    }
    back, (rest, user_id, code, raw) = round_trip(data)
    assert rest == {"views": 3}
    assert user_id == "42"
    assert code == hashlib.sha256(BACKEND.encode()).hexdigest()[:4]
    assert raw == bytes.fromhex(GOOD_HASH)
    assert back == data


@pytest.mark.parametrize(
    "auth_hash",
    [
        "zz" * 32,  # 64 characters, not hex
        "AB" * 32,  # hex, but not as Django writes it (upper case): must come back as is
        GOOD_HASH[:-2],  # too short
        GOOD_HASH + "00",  # too long
        "",
        "0x" + GOOD_HASH[2:],  # 64 characters, fromhex refuses
        " " + GOOD_HASH[1:],
        "é" * 64,
    ],
    ids=["not-hex", "upper-case", "short", "long", "empty", "0x", "space", "non-ascii"],
)
def test_a_hash_of_another_shape_stays_in_the_payload(auth_hash):
    data = {SESSION_KEY: "7", BACKEND_SESSION_KEY: BACKEND, HASH_SESSION_KEY: auth_hash}
    back, (rest, _, code, raw) = round_trip(data)
    assert rest == {HASH_SESSION_KEY: auth_hash}
    assert raw == ""
    assert code  # the backend is still coded
    assert back == data


@pytest.mark.parametrize("auth_hash", [None, 12345, ["a"]], ids=["none", "int", "list"])
def test_a_hash_that_is_not_a_string_stays_in_the_payload(auth_hash):
    data = {SESSION_KEY: "7", BACKEND_SESSION_KEY: BACKEND, HASH_SESSION_KEY: auth_hash}
    back, (rest, *_) = round_trip(data)
    assert rest == {HASH_SESSION_KEY: auth_hash}
    assert back == data


def test_a_backend_not_configured_stays_in_the_payload():
    data = {SESSION_KEY: "7", BACKEND_SESSION_KEY: MODEL_BACKEND, HASH_SESSION_KEY: GOOD_HASH}
    back, (rest, _, code, raw) = round_trip(data)
    assert rest == {BACKEND_SESSION_KEY: MODEL_BACKEND}
    assert code == ""
    assert raw == bytes.fromhex(GOOD_HASH)
    assert back == data


def test_a_session_without_a_user_is_left_as_it_is():
    for data in (
        {"views": 1},
        {SESSION_KEY: "", BACKEND_SESSION_KEY: BACKEND, HASH_SESSION_KEY: GOOD_HASH},
        {BACKEND_SESSION_KEY: BACKEND, HASH_SESSION_KEY: GOOD_HASH},
    ):
        back, (rest, user_id, code, raw) = round_trip(data)
        assert (rest, user_id, code, raw) == (data, "", "", "")
        assert back == data


def test_a_user_without_backend_or_hash_round_trips():
    back, (rest, user_id, code, raw) = round_trip({SESSION_KEY: "9"})
    assert (rest, user_id, code, raw) == ({}, "9", "", "")
    assert back == {SESSION_KEY: "9"}


def test_the_write_script_gets_no_auth_fields_in_the_payload(alice, redis):
    session = SessionStore()
    session.update(
        {
            SESSION_KEY: str(alice.pk),
            BACKEND_SESSION_KEY: BACKEND,
            HASH_SESSION_KEY: alice.get_session_auth_hash(),
        }
    )
    session.create()
    _, args = session.write_call("update", session._get_session())
    payload, user_id, backend, auth_hash = args[6], args[7], args[11], args[12]
    assert payload == b""
    assert user_id == str(alice.pk)
    assert backend == hashlib.sha256(BACKEND.encode()).hexdigest()[:4]
    assert auth_hash == bytes.fromhex(alice.get_session_auth_hash())


# --- Backends -------------------------------------------------------------------------


def test_a_session_whose_backend_is_no_longer_configured_is_signed_out(alice, redis):
    client = Client()
    client.force_login(alice)
    assert client.get("/api/session").json()["authenticated"] is True
    assert client.get("/api/session").json()["authenticated"] is True  # from the cached copy
    assert redis.hget(redis_key(client), "x")
    with override_settings(AUTHENTICATION_BACKENDS=[MODEL_BACKEND]):
        body = client.get("/api/session").json()
        assert body["authenticated"] is False
        assert body["user"] is None
        assert client.get("/test/whoami").json() == {"user": None}


def test_reordering_the_backends_keeps_sessions_signed_in(alice, redis):
    client = Client()
    client.force_login(alice)
    client.get("/api/session")
    with override_settings(AUTHENTICATION_BACKENDS=[MODEL_BACKEND, BACKEND]):
        body = client.get("/api/session").json()
        assert body["user"]["username"] == "alice"
        assert SessionStore(cookie(client))[BACKEND_SESSION_KEY] == BACKEND


# --- User agents ----------------------------------------------------------------------


def test_a_long_user_agent_is_stored_once_by_reference(alice, redis):
    first, second = Client(HTTP_USER_AGENT=CHROME), Client(HTTP_USER_AGENT=CHROME)
    api_login(first, "alice")
    api_login(second, "alice")
    assert redis.hget(redis_key(first), "ua") == ref(CHROME)
    assert redis.hget(redis_key(second), "ua") == ref(CHROME)
    assert redis.hgetall(agents_key()) == {ref(CHROME): CHROME.encode()}
    assert listed_agent(first) == CHROME
    listed = services.list_sessions().results
    assert [r.user_agent for r in listed] == [CHROME, CHROME]


def test_a_short_user_agent_is_stored_inline(alice, redis):
    client = Client(HTTP_USER_AGENT=SHORT)
    api_login(client, "alice")
    assert redis.hget(redis_key(client), "ua") == SHORT.encode()
    assert not redis.exists(agents_key())
    assert listed_agent(client) == SHORT


@pytest.mark.parametrize(("length", "by_ref"), [(40, False), (41, True)])
def test_the_reference_threshold_is_forty_bytes(alice, redis, length, by_ref):
    agent = ("Mozilla/5.0 " + "x" * 100)[:length]
    client = Client(HTTP_USER_AGENT=agent)
    api_login(client, "alice")
    stored = redis.hget(redis_key(client), "ua")
    assert (stored == ref(agent)) is by_ref
    assert (stored == agent.encode()) is not by_ref
    assert listed_agent(client) == agent


def test_a_multibyte_user_agent_round_trips(alice, redis):
    agent = "Navigateur/1.0 (Édition spéciale; ünïcödé) " + "ß" * 10
    client = Client(HTTP_USER_AGENT=agent)
    api_login(client, "alice")
    assert redis.hget(redis_key(client), "ua") == ref(agent)
    assert listed_agent(client) == agent


def test_a_user_agent_is_cut_at_512_characters(alice, redis):
    agent = CHROME + " " + "Extension/1.0 " * 60
    client = Client(HTTP_USER_AGENT=agent)
    api_login(client, "alice")
    assert listed_agent(client) == agent[:512]


def test_search_finds_a_substring_of_a_long_user_agent(alice, make_user, redis):
    make_user("bob")
    chrome, firefox = Client(HTTP_USER_AGENT=CHROME), Client(HTTP_USER_AGENT=FIREFOX)
    api_login(chrome, "alice")
    api_login(firefox, "bob")
    found = index.search(needle="Chrome/126")
    assert [r.id for r in found.records] == [keys.session_id(cookie(chrome))]
    assert found.records[0].user_agent == CHROME
    # Case-insensitive, as the listing's query is.
    assert [r.user_agent for r in index.search(needle="gecko/2010").records] == [FIREFOX]
    page = services.list_sessions(query="AppleWebKit/537.36")
    assert [r.user_agent for r in page.results] == [CHROME]
    # The reference itself is not what is searched.
    assert index.search(needle=f"{hour()}:").records == []


def test_the_staff_api_lists_the_full_agent(alice, make_user, redis):
    from tests.helpers import grant

    staff = grant(make_user("staff", is_staff=True), "sessionadmin.view_activesession")
    client = Client(HTTP_USER_AGENT=CHROME)
    api_login(client, "alice")
    admin = Client()
    admin.force_login(staff)
    response = admin.get("/api/admin/sessions", {"q": "Chrome/126"})
    assert response.status_code == 200, response.content
    agents = [s["user_agent"] for s in response.json()["results"]]
    assert agents == [CHROME]


def test_the_agent_table_stops_growing_at_twenty_thousand(alice, redis):
    known = Client(HTTP_USER_AGENT=CHROME)
    api_login(known, "alice")  # in the table before it fills up
    with redis.pipeline(transaction=False) as pipe:
        for start in range(0, AGENT_TABLE_MAX - 1, 1000):
            pipe.hset(
                agents_key(),
                mapping={
                    f"\x01{hour()}:dummy{n:011d}": f"Dummy agent {n} " + "x" * 40
                    for n in range(start, min(start + 1000, AGENT_TABLE_MAX - 1))
                },
            )
        pipe.execute()
    assert redis.hlen(agents_key()) == AGENT_TABLE_MAX

    client = Client(HTTP_USER_AGENT=FIREFOX)
    api_login(client, "alice")
    assert redis.hget(redis_key(client), "ua") == FIREFOX.encode()  # inline
    assert redis.hlen(agents_key()) == AGENT_TABLE_MAX
    assert listed_agent(client) == FIREFOX
    assert [r.user_agent for r in index.search(needle="firefox/128").records] == [FIREFOX]

    # An agent already in the table is still stored by reference.
    again = Client(HTTP_USER_AGENT=CHROME)
    api_login(again, "alice")
    assert redis.hget(redis_key(again), "ua") == ref(CHROME)
    assert listed_agent(again) == CHROME
    assert redis.hlen(agents_key()) == AGENT_TABLE_MAX


@pytest.mark.parametrize("spoof", [False, True], ids=["unknown", "looks-like-a-reference"])
def test_an_agent_starting_with_byte_1_is_listed_as_sent(alice, make_user, redis, spoof):
    make_user("bob")
    victim = Client(HTTP_USER_AGENT=CHROME)
    api_login(victim, "bob")
    # (A WSGI server hands header bytes over as Latin-1.)
    agent = ref(CHROME).decode("latin-1") if spoof else "\x01odd agent"
    client = Client(HTTP_USER_AGENT=agent)
    api_login(client, "alice")
    # It goes through the agent table, so it can never be read back as a reference.
    assert redis.hget(redis_key(client), "ua") == ref(agent)
    assert listed_agent(client) == agent


# --- Fields left out, and what earlier releases stored --------------------------------


def test_a_session_its_sign_in_made_keeps_no_sign_in_time_and_lists_it_as_created(alice, redis):
    client = Client(HTTP_USER_AGENT=CHROME)
    api_login(client, "alice")
    stored = redis.hgetall(redis_key(client))
    assert b"l" not in stored and stored[b"u"] == str(alice.pk).encode()
    sid = keys.session_id(cookie(client))
    record = services.get_session(sid)
    assert record.login_at == record.created_at
    assert [r.login_at for r in services.list_sessions().results] == [record.created_at]
    assert [r.login_at for r in index.search(needle="Chrome/126").records] == [record.created_at]
    store = SessionStore(cookie(client))
    store.load()
    assert store.meta.login == int(stored[b"c"])


def test_a_guest_session_signed_in_later_keeps_its_sign_in_time(alice, redis):
    client = Client(HTTP_USER_AGENT=CHROME)
    product = Product.objects.create(name="Item", price=Decimal("9.50"), stock=50)
    response = client.post(
        "/api/cart/items", {"product_id": product.pk}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    time.sleep(0.01)  # a later millisecond than the guest session's creation
    api_login(client, "alice")
    stored = redis.hgetall(redis_key(client))
    assert int(stored[b"l"]) > int(stored[b"c"])
    record = services.get_session(keys.session_id(cookie(client)))
    assert record.login_at > record.created_at
    # An update (the cart) keeps it; signing in again as the same user on the same
    # session (Django's login() cycles the key) starts a new login, kept too.
    client.post("/api/cart/items", {"product_id": product.pk}, content_type="application/json")
    assert redis.hget(redis_key(client), "l") == stored[b"l"]


def test_a_reference_of_an_earlier_release_still_reads_and_is_replaced(alice, redis):
    from sessionadmin.store.codec import ClientInfo

    client = Client(HTTP_USER_AGENT=CHROME)
    api_login(client, "alice")
    redis.hset(redis_key(client), "ua", old_ref(CHROME))
    redis.hset(agents_key(), old_ref(CHROME), CHROME)
    assert listed_agent(client) == CHROME  # through the table
    redis.hdel(agents_key(), old_ref(CHROME))
    store = SessionStore(cookie(client))
    store.client = ClientInfo("127.0.0.1", CHROME)
    store.load()
    assert store.meta.user_agent == CHROME  # the request's own: no table read needed
    client.get("/api/session")  # writes the session (its view counter)
    assert redis.hget(redis_key(client), "ua") == ref(CHROME)  # the next write's
    assert listed_agent(client) == CHROME


def test_a_backend_code_of_an_earlier_release_still_signs_in(alice, redis):
    client = Client()
    api_login(client, "alice")
    key = redis_key(client)
    redis.hset(key, "b", hashlib.sha256(BACKEND.encode()).hexdigest()[:8])
    redis.hdel(key, "x", "x1")  # no cached copy: the user is loaded through the backend
    assert client.get("/api/session").json()["user"]["username"] == "alice"
    assert SessionStore(cookie(client))[BACKEND_SESSION_KEY] == BACKEND


def _sharing_four_digits() -> tuple[str, str]:
    seen: dict[str, str] = {}
    for n in range(1_000_000):
        path = f"example.backends.Backend{n}"
        code = hashlib.sha256(path.encode()).hexdigest()[:4]
        if code in seen:
            return seen[code], path
        seen[code] = path
    raise AssertionError("no two paths share four hex digits")


def test_backends_sharing_four_hex_digits_get_eight_and_never_each_others_sessions():
    first, second = _sharing_four_digits()
    short = hashlib.sha256(first.encode()).hexdigest()[:4]
    data = {"_auth_user_id": "7", "_auth_user_backend": second, "_auth_user_hash": GOOD_HASH}
    with override_settings(AUTHENTICATION_BACKENDS=[first]):
        _, (_, _, stored_code, _) = round_trip({**data, "_auth_user_backend": first})
        assert stored_code == short
    with override_settings(AUTHENTICATION_BACKENDS=[first, second]):
        back, (_, _, code, _) = round_trip(data)
        assert code == hashlib.sha256(second.encode()).hexdigest()[:8]
        assert back["_auth_user_backend"] == second
        # A session the first backend stored with four digits, before the second came:
        # it names neither now, so it loads signed out.
        loaded = join_auth_fields({}, "7", stored_code, b"")
        assert "_auth_user_backend" not in loaded


@pytest.mark.parametrize(
    ("ip", "stored"),
    [
        ("203.0.113.9", b"\x02\xcb\x00\x71\x09"),
        ("2001:db8::7", b"2001:db8::7"),
        ("010.1.2.3", b"010.1.2.3"),  # would not come back the same: kept as sent
        ("256.1.2.3", b"256.1.2.3"),
    ],
    ids=["ipv4-packed", "ipv6", "leading-zero", "out-of-range"],
)
def test_an_ipv4_address_is_packed_and_every_reader_gives_its_text(alice, redis, ip, stored):
    client = Client(HTTP_USER_AGENT=CHROME, REMOTE_ADDR=ip)
    api_login(client, "alice")
    assert redis.hget(redis_key(client), "ip") == stored
    sid = keys.session_id(cookie(client))
    assert services.get_session(sid).ip == ip
    assert [r.ip for r in services.list_sessions().results] == [ip]
    assert [r.ip for r in index.search(needle=ip[:6]).records] == [ip]
    assert [s["ip"] for s in client.get("/api/sessions").json()["results"]] == [ip]
    store = SessionStore(cookie(client))
    store.load()
    assert store.meta.ip == ip
