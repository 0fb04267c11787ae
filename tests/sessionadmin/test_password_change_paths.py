"""A password change through any path ends the user's other sessions at once (SECURITY.md
item 10), not only through the site's own view: Django's PasswordChangeView, the admin's
form, set_password() in a shell. The session that made the change is kept."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client, override_settings

from sessionadmin import services

# Transactions as in production: a password change ends sessions once it is committed.
pytestmark = [
    pytest.mark.urls("tests.urls"),
    pytest.mark.usefixtures("redis"),
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "correct horse 9"
NEW = "x9 brand new phrase"


@pytest.fixture
def alice(make_user):
    return make_user("alice", password=PASSWORD, is_staff=True, is_superuser=True)


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    assert client.get("/test/whoami").json() == {"user": user.get_username()}
    return client


def live(user) -> int:
    return len(services.list_user_sessions(user.pk))


@pytest.mark.parametrize("path", ["/test/django-password/", "/admin/password_change/"])
def test_a_password_change_page_ends_the_other_sessions_at_once(alice, path):
    changer, others = browser(alice), [browser(alice) for _ in range(2)]
    assert live(alice) == 3
    form = {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    assert changer.post(path, form).status_code == 302
    assert live(alice) == 1  # ended now, not at their next request
    assert changer.get("/test/whoami").json() == {"user": "alice"}  # the changer stays
    for other in others:
        assert other.get("/test/whoami").json() == {"user": None}


def change_under_an_outer_transaction(user) -> None:
    """A project's middleware above SessionMiddleware commits the change after our
    response step, as if it came from outside a request: the session of the request that
    made it is still the one kept, and the other one ends."""
    from django.conf import settings

    middleware = ["tests.helpers.AtomicAroundSessions", *settings.MIDDLEWARE]
    with override_settings(MIDDLEWARE=middleware):
        changer, other = browser(user), browser(user)
        form = {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
        assert changer.post("/test/django-password/", form).status_code == 302
        assert live(user) == 1
        assert changer.get("/test/whoami").json() == {"user": user.get_username()}
        assert other.get("/test/whoami").json() == {"user": None}


def test_a_change_committed_after_the_response_step_still_keeps_the_changers_session(alice):
    change_under_an_outer_transaction(alice)


def test_set_password_outside_a_request_ends_every_session(alice):
    browser(alice), browser(alice)
    alice.set_password(NEW)
    alice.save()
    assert live(alice) == 0


def test_a_password_change_rolled_back_ends_nothing(alice):
    client = browser(alice)
    with pytest.raises(RuntimeError), transaction.atomic():
        alice.set_password(NEW)
        alice.save()
        raise RuntimeError("rolled back")
    assert live(alice) == 1
    assert client.get("/test/whoami").json() == {"user": "alice"}


def test_a_save_without_a_new_password_ends_nothing(alice):
    browser(alice)
    alice.first_name = "Al"
    alice.save()
    assert live(alice) == 1


def test_under_asgi_pages_are_served_and_a_password_change_ends_the_others(alice):
    # Django runs a sync middleware's process_request() and process_response() in two
    # copies of the context there: a ContextVar reset with the first one's token was a 500
    # on every request.
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    other = browser(alice)

    async def change() -> tuple[int, int, int]:
        client = AsyncClient()
        await client.aforce_login(alice)
        page = await client.get("/accounts/login/")
        form = {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
        changed = await client.post("/test/django-password/", form)
        after = await client.get("/test/whoami")
        return page.status_code, changed.status_code, after.json()["user"]

    assert async_to_sync(change)() == (200, 302, "alice")
    assert live(alice) == 1
    assert other.get("/test/whoami").json() == {"user": None}


def test_a_change_ends_the_others_even_when_the_auth_hash_does_not_cover_the_password(
    alice, monkeypatch
):
    # A model whose get_session_auth_hash() is built from something else (a "session
    # version" field): after the change every session still has the same hash. The others
    # must end all the same; only the changer's session is kept.
    from django.contrib.auth.models import User
    from django.utils.crypto import salted_hmac

    monkeypatch.setattr(
        User,
        "get_session_auth_hash",
        lambda user: salted_hmac("version", str(user.pk), algorithm="sha256").hexdigest(),
    )
    change_under_an_outer_transaction(alice)
