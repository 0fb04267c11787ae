"""Shared fixtures: a real Redis (flushed around each test), sessions made through the engine."""

from __future__ import annotations

import pytest
from django.core.cache import caches

from sessionadmin.backends.redis import ClientInfo, SessionStore
from sessionadmin.store.client import redis_client


def pytest_sessionfinish(session, exitstatus) -> None:
    """Leave nothing running: stop the embedded test Redis if this run started it."""
    from tests import settings as test_settings

    if getattr(test_settings, "STARTED_TEST_REDIS", False):
        test_settings.TEST_REDIS.stop()


@pytest.fixture(autouse=True)
def _fresh_catalogue():
    """No test sees catalogue rows another test's database held (cart.catalog's cache)."""
    from cart import catalog

    catalog.forget()


@pytest.fixture
def redis():
    """The real Redis the session store uses, on the tests' own database, flushed."""
    client = redis_client()
    client.flushdb()
    yield client
    client.flushdb()
    caches["default"].clear()


@pytest.fixture
def make_session(redis):
    """Create and save a session through the real SessionStore (so the index is kept)."""

    def make(user=None, ip="127.0.0.1", user_agent="pytest", **data) -> SessionStore:
        session = SessionStore()
        session.client = ClientInfo(ip, user_agent)
        if user is not None:
            data.setdefault("_auth_user_id", str(user.pk))
            data.setdefault("_auth_user_backend", "django.contrib.auth.backends.ModelBackend")
            data.setdefault("_auth_user_hash", user.get_session_auth_hash())
        session.update(data)
        session.save()
        return session

    return make


@pytest.fixture
def make_user(db, django_user_model):
    counter = iter(range(1, 10_000))

    def make(username: str | None = None, password: str = "correct horse 9", **extra):
        name = username or f"user{next(counter)}"
        return django_user_model.objects.create_user(
            username=name, email=f"{name}@example.com", password=password, **extra
        )

    return make
