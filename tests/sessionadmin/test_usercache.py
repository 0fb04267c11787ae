"""``request.user`` from the copy kept beside the session (usercache), through real requests.

The first signed-in request loads the user as Django does (one query) and stores a copy in
the session hash's field ``x``; later requests build ``request.user`` from it with no query.
Any save or delete of the user invalidates the copies, so the next request sees the change.
"""

from __future__ import annotations

import time

import orjson
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib import auth
from django.contrib.auth import get_user_model
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext

from sessionadmin import services
from sessionadmin.auth import usercache
from sessionadmin.middleware import AuthenticationMiddleware, SessionMiddleware
from sessionadmin.store import keys
from sessionadmin.store.client import run_script
from tests.helpers import StaffMember

pytestmark = pytest.mark.urls("tests.urls")


def redis_key(client: Client) -> str:
    return keys.session_key_name(
        keys.session_id(client.cookies[settings.SESSION_COOKIE_NAME].value)
    )


def cached_copy(redis, client: Client) -> bytes | None:
    """The stored copy, whole: it is kept in two parts, x (63 bytes) and x1."""
    return b"".join(part for part in redis.hmget(redis_key(client), "x", "x1") if part) or None


def store_copy(redis, client: Client, copy: bytes) -> None:
    """Write a copy as USER_FILL does, in its two parts."""
    redis.hset(redis_key(client), mapping={"x": copy[:64], "x1": copy[64:]})


def copy_values(copy: bytes) -> list:
    """The JSON values of a stored copy (after its generation.time.digest header)."""
    return orjson.loads(copy[copy.index(b"[") :])


def generation(redis, user) -> bytes:
    return redis.get(keys.user_generation(str(user.pk))) or b"0"


def usable(redis, client: Client, user) -> bool:
    """Whether the session's copy would be used now (same generation, fresh, same shape)."""
    copy = cached_copy(redis, client)
    return copy is not None and (
        usercache.decode(copy, str(user.pk), generation(redis, user)) is not None
    )


def whoami(client: Client) -> dict:
    response = client.get("/api/session")
    assert response.status_code == 200, response.content
    return response.json()


def user_queries(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if '"auth_user"' in q["sql"]]


@pytest.fixture
def alice(make_user, redis):
    return make_user("alice")


@pytest.fixture
def signed_in(alice):
    client = Client()
    client.force_login(alice)
    return client


# --- The copy is used -----------------------------------------------------------------


def test_first_request_queries_the_user_then_later_requests_do_not(
    signed_in, alice, redis, django_assert_num_queries
):
    assert cached_copy(redis, signed_in) is None  # login does not store a copy
    with CaptureQueriesContext(connection) as first:
        body = whoami(signed_in)
    assert body["authenticated"] is True
    assert body["user"] == {"id": alice.pk, "username": "alice"}
    assert user_queries(first), "the first request must load the user from the database"
    copy = cached_copy(redis, signed_in)
    assert copy is not None and usable(redis, signed_in, alice)
    assert "alice" in copy_values(copy)

    with django_assert_num_queries(0):
        body = whoami(signed_in)
    assert body["user"] == {"id": alice.pk, "username": "alice"}
    assert body["views"] == 2  # the session's own save kept the copy (same user, same hash)
    assert cached_copy(redis, signed_in) == copy
    with django_assert_num_queries(0):
        assert signed_in.get("/test/whoami").json() == {"user": "alice"}


def test_the_copy_carries_the_flags_and_defers_other_fields(signed_in, alice, redis):
    alice.is_staff = True
    alice.first_name = "Alice"
    alice.save()
    whoami(signed_in)  # fills the copy
    blob = cached_copy(redis, signed_in)
    assert blob is not None
    user = usercache.decode(blob, str(alice.pk), generation(redis, alice))
    assert user is not None
    assert (user.pk, user.username, user.is_staff, user.is_active, user.is_superuser) == (
        alice.pk,
        "alice",
        True,
        True,
        False,
    )
    assert "first_name" in user.get_deferred_fields()
    assert user.first_name == "Alice"  # a deferred field costs a query, and is right


def test_a_copy_is_not_used_for_a_malformed_user_id(redis):
    someone = get_user_model()(username="alice", email="alice@example.com")
    copy = usercache.make_copy(usercache.encode(someone), b"0")
    assert usercache.decode(copy, "1", b"0") is not None  # the same copy is good for "1"
    assert usercache.decode(copy, "not-a-number", b"0") is None
    assert usercache.decode(b"-3", "1", b"0") is None
    assert usercache.decode(b"", "1", b"0") is None


# --- Invalidation ---------------------------------------------------------------------


def test_a_username_change_is_seen_on_the_very_next_request(
    signed_in, alice, redis, django_assert_num_queries
):
    whoami(signed_in)
    with django_assert_num_queries(0):
        assert whoami(signed_in)["user"]["username"] == "alice"
    alice.username = "alice2"
    alice.save()
    assert not usable(redis, signed_in, alice)  # the generation moved, before the commit
    assert whoami(signed_in)["user"]["username"] == "alice2"
    with django_assert_num_queries(0):  # cached again, with the new name
        assert whoami(signed_in)["user"]["username"] == "alice2"


def test_the_after_commit_invalidation_runs_too(
    signed_in, alice, redis, django_capture_on_commit_callbacks
):
    whoami(signed_in)
    old_row = usercache.encode(alice)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        alice.username = "renamed"
        alice.save()
    assert callbacks, "post_save must schedule an invalidation after the commit"
    # A request that read the old row between pre_save and the commit would have stored
    # the old name: simulate it, then check the commit callback makes it unusable.
    stale = usercache.make_copy(old_row, generation(redis, alice))
    store_copy(redis, signed_in, stale)
    assert usable(redis, signed_in, alice)
    for callback in callbacks:
        callback()
    assert not usable(redis, signed_in, alice)
    assert whoami(signed_in)["user"]["username"] == "renamed"


def test_a_save_of_fields_not_cached_keeps_the_copy(signed_in, alice, redis):
    whoami(signed_in)
    copy = cached_copy(redis, signed_in)
    alice.first_name = "Al"
    alice.save(update_fields=["first_name"])
    assert cached_copy(redis, signed_in) == copy
    assert usable(redis, signed_in, alice)
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    assert not usable(redis, signed_in, alice)


def test_a_model_whose_auth_hash_covers_another_field_drops_the_copy_on_its_save(
    signed_in, alice, redis, monkeypatch
):
    # "Sign out everywhere" by a stamp: a model's get_session_auth_hash() that covers a
    # field besides the password, rotated with save(update_fields=[...]). The copy would
    # have kept the session signed in for up to SESSION_USER_CACHE_MAX_AGE.
    from django.contrib.auth.models import User
    from django.utils.crypto import salted_hmac

    def stamped_hash(user):
        text = f"{user.password}:{user.first_name}"
        return salted_hmac("stamp", text, algorithm="sha256").hexdigest()

    monkeypatch.setattr(User, "get_session_auth_hash", stamped_hash)
    signed_in.force_login(alice)  # under the stamped hash
    assert whoami(signed_in)["user"]["username"] == "alice"
    assert usable(redis, signed_in, alice)
    alice.first_name = "rotated"
    alice.save(update_fields=["first_name"])
    assert not usable(redis, signed_in, alice)
    assert whoami(signed_in)["user"] is None  # Django's check of the hash: signed out


def test_saving_the_user_built_from_the_copy_never_writes_back_what_it_missed(
    signed_in, alice, redis
):
    # QuerySet.update() sends no signal: the copy, up to 60 s old, still says staff. A
    # view that saves request.user (a profile form, Django's password change) wrote every
    # loaded field back, undoing the demotion for good. What the view did not change is
    # read again just before the save; what it changed is kept.
    alice.is_staff = True
    alice.save()
    whoami(signed_in)  # the copy: staff
    users = get_user_model().objects.filter(pk=alice.pk)
    users.update(is_staff=False, email="moved@example.com")
    response = signed_in.post("/test/save-me", {"first_name": "Al"})
    assert response.json() == {"from_copy": True}
    alice.refresh_from_db()
    assert (alice.first_name, alice.is_staff, alice.email) == ("Al", False, "moved@example.com")
    # A field the view sets is its own, even one an update changed meanwhile.
    whoami(signed_in)
    users.update(email="again@example.com", is_active=False)
    response = signed_in.post("/test/save-me", {"email": "mine@example.com"})
    assert response.json() == {"from_copy": True}
    alice.refresh_from_db()
    assert (alice.email, alice.is_active) == ("mine@example.com", False)


def test_a_staff_flag_change_is_seen_on_the_next_request(signed_in, alice, redis):
    whoami(signed_in)
    assert signed_in.get("/api/profile").json()["user"]["is_staff"] is False  # from the copy
    alice.is_staff = True
    alice.save()
    assert signed_in.get("/api/profile").json()["user"]["is_staff"] is True
    user = usercache.decode(cached_copy(redis, signed_in), str(alice.pk), generation(redis, alice))
    assert user is not None and user.is_staff is True


def test_a_password_change_elsewhere_signs_the_other_session_out(signed_in, alice, redis):
    whoami(signed_in)
    assert whoami(signed_in)["authenticated"] is True  # from the copy
    alice.set_password("another passphrase 77")
    alice.save()
    body = whoami(signed_in)
    assert body["authenticated"] is False
    assert body["user"] is None
    assert whoami(signed_in)["authenticated"] is False


def test_a_password_change_through_the_api_ends_other_sessions(alice, redis):
    here, there = Client(), Client()
    for client in (here, there):
        response = client.post(
            "/api/login",
            {"username": "alice", "password": "correct horse 9"},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        whoami(client)
        whoami(client)
    response = here.post(
        "/api/password",
        {"old_password": "correct horse 9", "new_password": "a brand new passphrase 42"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert whoami(here)["user"]["username"] == "alice"
    assert whoami(there)["authenticated"] is False


def test_deleting_the_user_makes_the_session_anonymous(signed_in, alice, redis):
    whoami(signed_in)
    assert whoami(signed_in)["authenticated"] is True
    alice.delete()
    assert whoami(signed_in)["authenticated"] is False
    assert signed_in.get("/test/whoami").json() == {"user": None}


def test_deleting_the_user_through_a_queryset_makes_the_session_anonymous(
    signed_in, alice, redis, django_user_model
):
    whoami(signed_in)
    whoami(signed_in)
    django_user_model.objects.filter(pk=alice.pk).delete()
    assert whoami(signed_in)["authenticated"] is False


def test_making_the_user_inactive_ends_the_sessions(
    signed_in, alice, redis, django_capture_on_commit_callbacks
):
    whoami(signed_in)
    assert whoami(signed_in)["authenticated"] is True
    key = redis_key(signed_in)
    with django_capture_on_commit_callbacks(execute=True):
        alice.is_active = False
        alice.save()
    assert not redis.exists(key)
    body = whoami(signed_in)
    assert body["authenticated"] is False
    assert body["user"] is None


def test_a_new_login_in_the_same_browser_never_reuses_the_old_copy(make_user, alice, redis):
    bob = make_user("bob")
    client = Client()
    client.force_login(alice)
    whoami(client)
    whoami(client)
    client.force_login(bob)
    assert cached_copy(redis, client) is None
    assert whoami(client)["user"]["username"] == "bob"
    assert whoami(client)["user"]["username"] == "bob"


def test_signing_in_as_another_user_in_the_same_browser_drops_the_copy(make_user, alice, redis):
    make_user("bob")
    client = Client()
    for name in ("alice", "bob"):
        response = client.post(
            "/api/login",
            {"username": name, "password": "correct horse 9"},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        assert cached_copy(redis, client) is None
        assert whoami(client)["user"]["username"] == name
        assert whoami(client)["user"]["username"] == name  # from the copy
        assert name in copy_values(cached_copy(redis, client))


# --- USER_FILL / USER_FORGET ----------------------------------------------------------


def fill_args(key: str, user, seen: bytes, copy: bytes, auth_hash: str):
    uid = str(user.pk)
    return [key, keys.user_generation(uid)], [uid, seen, copy, bytes.fromhex(auth_hash)]


def stale_copy(user, generation: bytes) -> bytes:
    return usercache.make_copy(usercache.encode(user), generation)


def test_a_copy_read_before_an_invalidation_is_never_stored(signed_in, alice, redis):
    whoami(signed_in)
    key = redis_key(signed_in)
    seen = generation(redis, alice)  # what a request read before loading the user
    assert cached_copy(redis, signed_in) is not None
    usercache.forget_user(alice.pk)
    assert generation(redis, alice) != seen
    assert cached_copy(redis, signed_in) is None  # dropped from the session

    auth_hash = alice.get_session_auth_hash()
    stale = stale_copy(alice, seen)
    assert run_script("USER_FILL", *fill_args(key, alice, seen, stale, auth_hash)) == 0
    assert cached_copy(redis, signed_in) is None

    # A second invalidation: the generation of the first no longer matches either.
    first = generation(redis, alice)
    usercache.forget_user(alice.pk)
    stale = stale_copy(alice, first)
    assert run_script("USER_FILL", *fill_args(key, alice, first, stale, auth_hash)) == 0
    assert cached_copy(redis, signed_in) is None

    # What the request saw now is accepted (the script can say yes).
    current = generation(redis, alice)
    fresh = stale_copy(alice, current)
    assert run_script("USER_FILL", *fill_args(key, alice, current, fresh, auth_hash)) == 1
    assert cached_copy(redis, signed_in) == fresh


def test_a_copy_is_never_stored_for_another_user_or_auth_hash(signed_in, alice, make_user, redis):
    whoami(signed_in)
    key = redis_key(signed_in)
    usercache.forget_user(alice.pk)
    before = cached_copy(redis, signed_in)
    bob = make_user("bob")
    seen = generation(redis, bob)
    copy = usercache.make_copy(usercache.encode(bob), seen)
    assert (
        run_script("USER_FILL", *fill_args(key, bob, seen, copy, alice.get_session_auth_hash()))
        == 0
    )
    seen = generation(redis, alice)
    assert run_script("USER_FILL", *fill_args(key, alice, seen, copy, "ab" * 32)) == 0
    assert cached_copy(redis, signed_in) == before


def test_no_copy_is_stored_for_a_session_that_ended(signed_in, alice, redis):
    whoami(signed_in)
    key = redis_key(signed_in)
    seen = generation(redis, alice)
    services.revoke_session(keys.session_id(signed_in.cookies[settings.SESSION_COOKIE_NAME].value))
    assert not redis.exists(key)
    copy = stale_copy(alice, seen)
    assert (
        run_script("USER_FILL", *fill_args(key, alice, seen, copy, alice.get_session_auth_hash()))
        == 0
    )
    assert not redis.exists(key)


def test_forget_user_never_recreates_an_ended_session(alice, redis):
    ended, live = Client(), Client()
    for client in (ended, live):
        client.force_login(alice)
        whoami(client)
    ended_key = redis_key(ended)
    # Gone as by its TTL: the per-user index still names it.
    redis.delete(ended_key)
    usercache.forget_user(alice.pk)
    assert not redis.exists(ended_key)
    assert not usable(redis, live, alice)
    # The ended session's cookie is told it timed out; the old session never comes back.
    response = ended.get("/api/session")
    assert response.status_code == 401
    assert response.json()["code"] == "SESSION_TIMEOUT"
    assert not redis.exists(ended_key)
    assert whoami(ended)["authenticated"] is False


def test_forget_user_drops_the_copy_from_each_of_the_users_sessions_only(alice, make_user, redis):
    bob = make_user("bob")
    clients = [Client() for _ in range(3)]
    for client, user in zip(clients, (alice, alice, bob), strict=True):
        client.force_login(user)
        whoami(client)
    assert all(cached_copy(redis, client) for client in clients)
    uid = str(alice.pk)
    tag = keys.prefix(keys.user_shard(uid))
    call = [keys.user_generation(uid), keys.user_index(uid)], [60_000, tag, uid]
    assert run_script("USER_FORGET", *call) == 1
    assert 0 < redis.pttl(keys.user_generation(uid)) <= 60_000
    # Gone from alice's sessions (a read uses a copy there as it is), bob's kept.
    assert cached_copy(redis, clients[0]) is None and cached_copy(redis, clients[1]) is None
    assert usable(redis, clients[2], bob)
    # And alice's next request loads her again, and caches her anew.
    with CaptureQueriesContext(connection) as queries:
        assert whoami(clients[0])["authenticated"] is True
    assert len(user_queries(queries)) == 1
    assert usable(redis, clients[0], alice)


# --- What is not cached, and tampering ------------------------------------------------


def test_a_long_username_is_not_cached_and_requests_still_work(make_user, redis):
    name = "u" * 60
    user = make_user(name)
    assert usercache.encode(user) is None
    client = Client()
    client.force_login(user)
    for _ in range(3):
        with CaptureQueriesContext(connection) as queries:
            assert whoami(client)["user"]["username"] == name
        assert user_queries(queries), "no copy: every request loads the user"
    assert cached_copy(redis, client) is None


def test_the_longest_cached_copy_fits_the_limit():
    # The site caches username, email, date joined and flags: the username is the one
    # value of variable length here.
    def user(name: str):
        return get_user_model()(username=name, email="e@example.com")

    around = len(usercache.encode(user("a"))) - 1
    fits = user("f" * (usercache.MAX_BLOB - around))
    too_long = user("t" * (usercache.MAX_BLOB - around + 1))
    blob = usercache.encode(fits)
    assert blob is not None and len(blob) == usercache.MAX_BLOB
    assert usercache.encode(too_long) is None
    # The longest copy, header included, is stored in two parts and used.
    copy = usercache.make_copy(blob, b"123")
    assert copy is not None and 64 < len(copy) <= usercache.MAX_VALUE


def test_a_long_email_and_the_date_joined_are_cached_exactly(make_user, redis):
    user = make_user("dora")
    user.email = "dora.the.explorer.of.long.addresses@example-university.edu"
    user.date_joined = user.date_joined.replace(microsecond=123457)
    user.save()
    client = Client()
    client.force_login(user)
    whoami(client)  # loads the user and stores the copy
    copy = cached_copy(redis, client)
    assert copy is not None and len(copy) > 64  # both parts used
    with CaptureQueriesContext(connection) as queries:
        body = client.get("/api/profile").json()
    assert user_queries(queries) == [], "email and the rest come from the copy"
    assert body["user"]["email"] == user.email
    cached = usercache.decode(copy, str(user.pk), generation(redis, user))
    assert cached.date_joined == user.date_joined  # to the microsecond, time zone aware
    assert cached.email == user.email


# The site's fields, in the model's order: is_superuser, username, email, is_staff,
# is_active, date_joined (microseconds).
@pytest.mark.parametrize(
    "values",
    [
        b'[0, 7, "a@example.com", 0, 1, 1]',
        b'[0, "alice", "a@example.com", 0, 1, null]',
        b'[0, "alice", "a@example.com", "yes", 1, 1]',
        b'[0, "alice", "a@example.com", 2, 1, 1]',
        b'[0, "alice", "a@example.com", 0.0, 1, 1]',
        b'[false, "alice", "a@example.com", false, true, 1]',
        b'[0, "alice", "a@example.com", 0, 1, 1.5]',
        b'[0, "alice", "a@example.com", 0, 1, 99999999999999999999]',
    ],
    ids=[
        "number-as-name", "null-date", "string-as-flag", "two-as-flag", "float-as-flag",
        "true-false-as-before", "float-date", "date-overflow",
    ],
)  # fmt: skip
def test_a_well_formed_copy_with_values_of_the_wrong_type_is_a_miss(values):
    good = b'[0, "alice", "a@example.com", 0, 1, 1764460800123456]'
    user = usercache.decode(usercache.make_copy(good, b"0"), "1", b"0")
    assert user.username == "alice"
    assert (user.is_superuser, user.is_staff, user.is_active) == (False, False, True)
    assert all(type(flag) is bool for flag in (user.is_superuser, user.is_staff, user.is_active))
    assert usercache.decode(usercache.make_copy(values, b"0"), "1", b"0") is None


@pytest.mark.parametrize(
    "tampered",
    [
        b"garbage",
        b"[1, 2]",
        b'["alice"]',
        b'[false, "alice", false, true, 5]',
        b"{}",
        b"null",
        b"\xff\xfe",
    ],
    ids=["not-json", "short-list", "one-item", "long-list", "object", "null", "not-utf8"],
)
def test_a_tampered_copy_is_a_miss_never_an_error(signed_in, alice, redis, tampered):
    whoami(signed_in)
    store_copy(redis, signed_in, tampered)
    with CaptureQueriesContext(connection) as queries:
        body = whoami(signed_in)
    assert body["user"] == {"id": alice.pk, "username": "alice"}
    assert user_queries(queries)
    # The miss stored a good copy again (compare-and-set against what it saw).
    copy = cached_copy(redis, signed_in)
    assert usercache.decode(copy, str(alice.pk), generation(redis, alice)).username == "alice"


# --- request.auser() within a request that signs in or out ----------------------------


def through_middleware(client: Client) -> HttpRequest:
    """A request carrying the client's cookie, past the project's two middlewares."""
    request = RequestFactory().get("/api/session")
    request.COOKIES[settings.SESSION_COOKIE_NAME] = client.cookies[
        settings.SESSION_COOKIE_NAME
    ].value
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    AuthenticationMiddleware(lambda r: HttpResponse()).process_request(request)
    return request


def test_request_user_is_the_cached_copy_through_the_middleware(signed_in, alice, redis):
    whoami(signed_in)
    request = through_middleware(signed_in)
    assert request.user.username == "alice"
    assert "first_name" in request.user.get_deferred_fields()  # built from the copy
    assert async_to_sync(request.auser)() == alice


def test_auser_after_signing_in_another_user_is_that_user(signed_in, alice, make_user, redis):
    bob = make_user("bob")
    whoami(signed_in)
    whoami(signed_in)  # the copy of alice is in the hash, and loaded with the session
    request = through_middleware(signed_in)
    auth.login(request, bob, backend="accounts.backends.UsernameOrEmailBackend")
    assert request.session[auth.SESSION_KEY] == str(bob.pk)
    assert request.user == bob
    assert async_to_sync(request.auser)() == bob  # Django's own middleware: bob


def test_auser_after_logout_is_anonymous(signed_in, alice, redis):
    whoami(signed_in)
    request = through_middleware(signed_in)
    auth.logout(request)
    assert request.user.is_authenticated is False
    assert async_to_sync(request.auser)().is_authenticated is False  # Django's: anonymous


# --- Changes no signal reports: a maximum age; a changed field list: a schema digest ----


@override_settings(SESSION_USER_CACHE_MAX_AGE=1)
def test_a_queryset_update_deactivating_the_user_signs_out_within_the_maximum_age(
    signed_in, alice, redis, django_user_model
):
    whoami(signed_in)
    assert whoami(signed_in)["authenticated"] is True  # from the copy
    django_user_model.objects.filter(pk=alice.pk).update(is_active=False)  # no signal
    time.sleep(1.2)
    assert whoami(signed_in)["authenticated"] is False


@override_settings(SESSION_USER_CACHE_MAX_AGE=1)
def test_a_queryset_update_of_the_staff_flag_is_seen_within_the_maximum_age(
    make_user, redis, django_user_model
):
    boss = make_user("boss", is_staff=True)
    client = Client()
    client.force_login(boss)
    assert client.get("/api/profile").json()["user"]["is_staff"] is True
    assert client.get("/api/profile").json()["user"]["is_staff"] is True  # from the copy
    django_user_model.objects.filter(pk=boss.pk).update(is_staff=False)
    time.sleep(1.2)
    assert client.get("/api/profile").json()["user"]["is_staff"] is False


def test_a_copy_within_its_maximum_age_makes_no_query_and_an_older_one_does(
    signed_in, alice, redis
):
    whoami(signed_in)
    copy = cached_copy(redis, signed_in)
    values = copy[copy.index(b"[") :]
    old = usercache.make_copy(values, generation(redis, alice), now=time.time() - 61)
    store_copy(redis, signed_in, old)
    with CaptureQueriesContext(connection) as queries:
        assert whoami(signed_in)["user"]["username"] == "alice"
    assert user_queries(queries), "a copy past SESSION_USER_CACHE_MAX_AGE is reloaded"
    assert usable(redis, signed_in, alice)  # and refreshed


def test_a_save_through_a_proxy_model_is_seen_at_once(signed_in, alice, redis):
    whoami(signed_in)
    assert usable(redis, signed_in, alice)
    member = StaffMember.objects.get(pk=alice.pk)
    member.is_staff = True
    member.save()
    assert not usable(redis, signed_in, alice)
    assert signed_in.get("/api/profile").json()["user"]["is_staff"] is True


def test_a_changed_field_list_never_maps_old_values_onto_new_fields(signed_in, alice, redis):
    whoami(signed_in)
    assert usable(redis, signed_in, alice)
    # Four values under another list of four fields would make the superuser flag the
    # username and the username the first name: the schema digest makes the copy a miss.
    with override_settings(
        SESSION_USER_CACHE_FIELDS=("username", "first_name", "is_staff", "is_active")
    ):
        copy = cached_copy(redis, signed_in)
        assert usercache.decode(copy, str(alice.pk), generation(redis, alice)) is None
        with CaptureQueriesContext(connection) as queries:
            assert whoami(signed_in)["user"]["username"] == "alice"
        assert user_queries(queries)


def test_a_copy_from_the_future_is_a_miss(signed_in, alice, redis):
    whoami(signed_in)
    copy = cached_copy(redis, signed_in)
    future = usercache.make_copy(
        copy[copy.index(b"[") :], generation(redis, alice), now=time.time() + 3600
    )
    assert usercache.decode(future, str(alice.pk), generation(redis, alice)) is None
