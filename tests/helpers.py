"""Small helpers shared by the tests: sessions by public id, signed-in clients, permissions."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.test import Client

from sessionadmin.store import keys

# The keys of API.md's session object.
SESSION_KEYS = {
    "id",
    "current",
    "user",
    "ip",
    "user_agent",
    "device",
    "created_at",
    "last_activity",
    "login_at",
    "expires_at",
    "requests",
    "kind",  # "browser" or "token" (API.md, "Token sessions")
    "name",
    "suspicious",  # what changed mid-session: "network", "agent" (hijack flags)
}


def grant(user, *permissions: str):
    """Give ``user`` the named "app_label.codename" permissions and return it."""
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def browser(user) -> Client:
    """A client signed in as ``user`` (its session made by the real engine)."""
    client = Client()
    client.force_login(user)
    return client


def cookie_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def client_id(client: Client) -> str:
    """The public id of a client's session."""
    return keys.session_id(cookie_key(client))


def sid(session) -> str:
    """The public id of a SessionStore."""
    return keys.session_id(session.session_key)


def pause() -> None:
    """Sessions are ordered by last activity in ms: keep creation times apart."""
    time.sleep(0.005)


class StaffMember(User):
    """A proxy of the user model, as a project might keep for its own admin."""

    class Meta:
        proxy = True
        app_label = "auth"


def stored_keys(redis) -> set[bytes]:
    """Every key in the test database but the event log (which keeps what happened)."""
    return {k for k in redis.keys("*") if k != keys.events_log().encode()}
