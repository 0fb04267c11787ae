"""What sign-ins and changes of users do to sessions, whichever code does them: the
per-user session limit on any login(), and revocation once a deactivation or a deletion
commits (never for one rolled back), through the user model or a proxy of it."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client, override_settings

from sessionadmin import services
from tests.helpers import StaffMember

pytestmark = [pytest.mark.urls("tests.urls"), pytest.mark.usefixtures("redis")]

PASSWORD = "correct horse 9"


def signed_in(client: Client) -> bool:
    return client.get("/api/session").json()["authenticated"]


def admin_login(client: Client, username: str, password: str = PASSWORD):
    client.get("/admin/login/")
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    return client.post(
        "/admin/login/", {"username": username, "password": password,
                          "csrfmiddlewaretoken": token, "next": "/admin/"},
    )  # fmt: skip


@pytest.fixture
def alice(make_user):
    return make_user("alice", password=PASSWORD, is_staff=True, is_superuser=True)


@pytest.fixture
def browsers(alice):
    clients = [Client() for _ in range(2)]
    for client in clients:
        client.force_login(alice)
        assert signed_in(client)
    return clients


@override_settings(SESSION_MAX_PER_USER=3, LOGIN_RATE_LIMIT="100/15m")
def test_thirteen_admin_logins_leave_at_most_the_per_user_limit(alice):
    clients = [Client() for _ in range(13)]
    for client in clients:
        assert admin_login(client, "alice").status_code == 302
    assert len(services.list_user_sessions(alice.pk)) == 3
    # The newest three survive; the earliest were ended by the later logins.
    assert [signed_in(c) for c in clients] == [False] * 10 + [True] * 3


@override_settings(SESSION_MAX_PER_USER=2, LOGIN_RATE_LIMIT="100/15m")
def test_a_third_party_login_view_applies_the_per_user_limit(alice):
    for _ in range(4):
        response = Client().post(
            "/test/django-login/", {"username": "alice", "password": PASSWORD}
        )
        assert response.status_code == 302
    assert len(services.list_user_sessions(alice.pk)) == 2


def test_deactivating_a_user_ends_their_sessions_after_the_commit(
    alice, browsers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        alice.is_active = False
        alice.save()
        # Not yet: the transaction could still roll back.
        assert len(services.list_user_sessions(alice.pk)) == 2
    for callback in callbacks:
        callback()
    assert services.list_user_sessions(alice.pk) == []
    assert not any(signed_in(c) for c in browsers)


def test_a_rolled_back_deactivation_ends_no_session(
    alice, browsers, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        alice.is_active = False
        alice.save()
        raise RuntimeError("the rest of the change failed")
    alice.refresh_from_db()
    assert alice.is_active
    assert len(services.list_user_sessions(alice.pk)) == 2
    assert all(signed_in(c) for c in browsers)


def test_deleting_a_user_ends_their_sessions(alice, browsers, django_capture_on_commit_callbacks):
    pk = alice.pk
    with django_capture_on_commit_callbacks(execute=True):
        alice.delete()
    assert services.list_user_sessions(pk) == []
    assert not any(signed_in(c) for c in browsers)


def test_deactivating_through_a_proxy_model_ends_the_sessions(
    alice, browsers, django_capture_on_commit_callbacks
):
    member = StaffMember.objects.get(pk=alice.pk)
    with django_capture_on_commit_callbacks(execute=True):
        member.is_active = False
        member.save()
    assert services.list_user_sessions(alice.pk) == []
    assert not any(signed_in(c) for c in browsers)


def test_saving_an_active_user_ends_nothing(alice, browsers, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        alice.first_name = "Alice"
        alice.save()
    assert len(services.list_user_sessions(alice.pk)) == 2
    assert all(signed_in(c) for c in browsers)
