"""sessionadmin's system checks: each message fires on its misconfiguration, and only then.

The check functions are called directly under ``override_settings``; sessionadmin's own
settings are re-read because ``conf.get_settings`` is reset by ``setting_changed``.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from sessionadmin.checks import (
    AUTH_MIDDLEWARE,
    DJANGO_AUTH_MIDDLEWARE,
    DJANGO_SESSION_MIDDLEWARE,
    E001,
    E002,
    E003,
    E004,
    E005,
    E006,
    E007,
    E008,
    ENGINE,
    LIMIT_BACKEND,
    SESSION_MIDDLEWARE,
    W001,
    W002,
    W003,
    W004,
    check_login_limit,
    check_middleware,
    check_session_store,
)
from sessionsite.redis_config import redis_caches

ALL_MESSAGES = [E001, E002, E003, E004, E005, E006, E007, E008, W001, W002, W003, W004]


def project_middleware() -> list[str]:
    from django.conf import settings

    return list(settings.MIDDLEWARE)


def without(middleware: list[str], path: str) -> list[str]:
    assert path in middleware, f"{path} is not in the project's MIDDLEWARE"
    return [entry for entry in middleware if entry != path]


def replaced(middleware: list[str], old: str, new: str) -> list[str]:
    assert old in middleware, f"{old} is not in the project's MIDDLEWARE"
    return [new if entry == old else entry for entry in middleware]


def with_sessions_cache(*, drop: tuple[str, ...] = (), **options: Any) -> dict[str, Any]:
    """A copy of CACHES whose sessions alias has ``options`` set and ``drop`` removed.

    ``BACKEND`` in ``options`` replaces the alias's backend rather than an option.
    """
    from django.conf import settings

    caches = copy.deepcopy(settings.CACHES)
    alias = caches["sessions"]
    if "BACKEND" in options:
        alias["BACKEND"] = options.pop("BACKEND")
    alias_options = alias.setdefault("OPTIONS", {})
    for name in drop:
        assert name in alias_options, f"the sessions alias has no {name} to drop"
        del alias_options[name]
    alias_options.update(options)
    return caches


def test_project_settings_raise_no_sessionadmin_check():
    assert check_session_store() == []
    assert check_middleware() == []
    assert check_login_limit() == []


def test_every_message_has_its_own_sessionadmin_id():
    ids = [message.id for message in ALL_MESSAGES]
    assert len(set(ids)) == len(ids)
    assert all(message_id.startswith("sessionadmin.") for message_id in ids)


# -- the sessions cache alias ---------------------------------------------------------------


def test_pickle_serializer_on_sessions_cache_fires_e001():
    pickling = with_sessions_cache(SERIALIZER="django_redis.serializers.pickle.PickleSerializer")
    with override_settings(CACHES=pickling):
        assert E001 in check_session_store()


def test_missing_serializer_means_django_redis_pickle_and_fires_e001():
    caches = with_sessions_cache(drop=("SERIALIZER",))
    with override_settings(CACHES=caches):
        assert E001 in check_session_store()


def test_json_serializer_on_sessions_cache_does_not_fire_e001():
    json = with_sessions_cache(SERIALIZER="django_redis.serializers.json.JSONSerializer")
    with override_settings(CACHES=json):
        assert E001 not in check_session_store()


def test_non_django_redis_sessions_cache_fires_e002():
    locmem = with_sessions_cache(BACKEND="django.core.cache.backends.locmem.LocMemCache")
    with override_settings(CACHES=locmem):
        problems = check_session_store()
    assert E002 in problems
    # The serializer is django-redis's notion: a non-django-redis cache is not told about it.
    assert E001 not in problems


def test_sessions_cache_alias_pointing_nowhere_fires_e002():
    with override_settings(SESSION_CACHE_ALIAS="no-such-alias"):
        assert E002 in check_session_store()


def test_ignore_exceptions_on_sessions_cache_fires_e003():
    with override_settings(CACHES=with_sessions_cache(IGNORE_EXCEPTIONS=True)):
        assert E003 in check_session_store()


def test_ignore_exceptions_off_does_not_fire_e003():
    with override_settings(CACHES=with_sessions_cache(IGNORE_EXCEPTIONS=False)):
        assert E003 not in check_session_store()


def test_sessions_cache_without_socket_timeout_fires_w002():
    with override_settings(CACHES=with_sessions_cache(drop=("SOCKET_TIMEOUT",))):
        assert W002 in check_session_store()


def test_sessions_cache_without_socket_connect_timeout_fires_w002():
    with override_settings(CACHES=with_sessions_cache(drop=("SOCKET_CONNECT_TIMEOUT",))):
        assert W002 in check_session_store()


def test_sentinel_without_a_retry_for_the_sentinels_fires_w004():
    # The project's own Sentinel configuration sets it (sessionsite/redis_config.py).
    caches = redis_caches("redis+sentinel://127.0.0.1:26379/sessions")
    with override_settings(CACHES=caches):
        assert W004 not in check_session_store()
    del caches["sessions"]["OPTIONS"]["SENTINEL_KWARGS"]["retry"]
    with override_settings(CACHES=caches):
        assert W004 in check_session_store()
    del caches["sessions"]["OPTIONS"]["SENTINEL_KWARGS"]
    with override_settings(CACHES=caches):
        assert W004 in check_session_store()


def test_touch_interval_equal_to_idle_timeout_fires_w001():
    with override_settings(SESSION_IDLE_TIMEOUT=600, SESSION_TOUCH_INTERVAL=600):
        assert W001 in check_session_store()


def test_touch_interval_longer_than_idle_timeout_fires_w001():
    with override_settings(SESSION_IDLE_TIMEOUT=600, SESSION_TOUCH_INTERVAL=900):
        assert W001 in check_session_store()


def test_touch_interval_shorter_than_idle_timeout_does_not_fire_w001():
    with override_settings(SESSION_IDLE_TIMEOUT=600, SESSION_TOUCH_INTERVAL=599):
        assert W001 not in check_session_store()


# -- middleware and engine ------------------------------------------------------------------


def test_our_engine_without_our_session_middleware_fires_e004():
    middleware = without(project_middleware(), SESSION_MIDDLEWARE)
    with override_settings(SESSION_ENGINE=ENGINE, MIDDLEWARE=middleware):
        assert E004 in check_middleware()


def test_our_engine_replacing_ours_with_djangos_session_middleware_fires_e004_not_e006():
    middleware = replaced(project_middleware(), SESSION_MIDDLEWARE, DJANGO_SESSION_MIDDLEWARE)
    with override_settings(SESSION_ENGINE=ENGINE, MIDDLEWARE=middleware):
        problems = check_middleware()
    assert E004 in problems
    assert E006 not in problems


def test_other_engine_without_our_session_middleware_fires_neither_e004_nor_e005():
    middleware = replaced(project_middleware(), SESSION_MIDDLEWARE, DJANGO_SESSION_MIDDLEWARE)
    with override_settings(
        SESSION_ENGINE="django.contrib.sessions.backends.cache", MIDDLEWARE=middleware
    ):
        problems = check_middleware()
    assert E004 not in problems
    assert E005 not in problems


def test_our_session_middleware_with_another_engine_fires_e005():
    middleware = project_middleware()
    assert SESSION_MIDDLEWARE in middleware
    with override_settings(
        SESSION_ENGINE="django.contrib.sessions.backends.cache", MIDDLEWARE=middleware
    ):
        problems = check_middleware()
    assert E005 in problems
    assert E004 not in problems


def test_djangos_session_middleware_beside_ours_fires_e006():
    middleware = project_middleware()
    middleware.insert(middleware.index(SESSION_MIDDLEWARE), DJANGO_SESSION_MIDDLEWARE)
    with override_settings(MIDDLEWARE=middleware):
        assert E006 in check_middleware()


def test_djangos_auth_middleware_added_with_our_engine_fires_e007():
    middleware = project_middleware()
    middleware.insert(middleware.index(AUTH_MIDDLEWARE), DJANGO_AUTH_MIDDLEWARE)
    with override_settings(SESSION_ENGINE=ENGINE, MIDDLEWARE=middleware):
        assert E007 in check_middleware()


def test_djangos_auth_middleware_replacing_ours_fires_e007():
    middleware = replaced(project_middleware(), AUTH_MIDDLEWARE, DJANGO_AUTH_MIDDLEWARE)
    with override_settings(SESSION_ENGINE=ENGINE, MIDDLEWARE=middleware):
        assert E007 in check_middleware()


def test_djangos_auth_middleware_with_another_engine_does_not_fire_e007():
    middleware = replaced(project_middleware(), SESSION_MIDDLEWARE, DJANGO_SESSION_MIDDLEWARE)
    middleware = replaced(middleware, AUTH_MIDDLEWARE, DJANGO_AUTH_MIDDLEWARE)
    with override_settings(
        SESSION_ENGINE="django.contrib.sessions.backends.cache", MIDDLEWARE=middleware
    ):
        assert check_middleware() == []


# -- login limit ----------------------------------------------------------------------------


@pytest.mark.parametrize("rate", ["five", "5", "5/15", "0/15m", "5/0m", "5/15w", ""])
def test_login_rate_limit_that_is_not_a_rate_fires_e008(rate):
    with override_settings(LOGIN_RATE_LIMIT=rate):
        assert E008 in check_login_limit()


@pytest.mark.parametrize("rate", ["5/15m", "10/h", "1/1s", "100/2d"])
def test_login_rate_limit_that_is_a_rate_does_not_fire_e008(rate):
    with override_settings(LOGIN_RATE_LIMIT=rate):
        assert E008 not in check_login_limit()


def test_limit_backend_not_first_fires_w003():
    from django.conf import settings

    backends = list(settings.AUTHENTICATION_BACKENDS)
    assert backends[0] == LIMIT_BACKEND
    with override_settings(AUTHENTICATION_BACKENDS=[*backends[1:], LIMIT_BACKEND]):
        assert W003 in check_login_limit()


def test_limit_backend_missing_fires_w003():
    with override_settings(AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.ModelBackend"]):
        assert W003 in check_login_limit()


def test_the_limited_model_backend_alone_does_not_fire_w003():
    with override_settings(
        AUTHENTICATION_BACKENDS=["sessionadmin.auth.backends.LimitedModelBackend"]
    ):
        assert W003 not in check_login_limit()


def test_limit_backend_first_of_other_backends_does_not_fire_w003():
    with override_settings(
        AUTHENTICATION_BACKENDS=[LIMIT_BACKEND, "django.contrib.auth.backends.ModelBackend"]
    ):
        assert W003 not in check_login_limit()


# -- through manage.py check ----------------------------------------------------------------


def test_check_command_fails_on_djangos_session_middleware_beside_ours():
    middleware = [*project_middleware(), DJANGO_SESSION_MIDDLEWARE]
    with (
        override_settings(MIDDLEWARE=middleware),
        pytest.raises(SystemCheckError, match=r"sessionadmin\.E006"),
    ):
        call_command("check")


@pytest.mark.parametrize(("shards", "fires"), [(0, True), (257, True), (1, False), (256, False)])
def test_e011_a_shard_count_out_of_range(shards, fires):
    from sessionadmin.checks import E011

    with override_settings(SESSIONADMIN_SHARDS=shards):
        assert (E011 in check_session_store()) is fires
