"""The per-user session limit holds under racing logins on a real multi-worker server."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import override_settings

from sessionadmin import services
from tests.servers import Browser, gunicorn

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse 9"
ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"
LIMIT = 3
RACERS = 8


def race_logins(base: str, browsers: list[Browser], username: str, passwords: list[str]):
    """Sign in from every browser at once (one password each); return the statuses."""
    tokens = []
    for browser in browsers:
        status, _, body = browser.request("GET", f"{base}/api/csrf")
        assert status == 200
        tokens.append(body["csrfToken"])
    start = threading.Barrier(len(browsers))

    def sign_in(n: int) -> int:
        start.wait(timeout=10)
        status, _, _ = browsers[n].request(
            "POST",
            f"{base}/api/login",
            {"username": username, "password": passwords[n]},
            headers={"X-CSRFToken": tokens[n]},
        )
        return status

    with ThreadPoolExecutor(len(browsers)) as pool:
        return list(pool.map(sign_in, range(len(browsers))))


def test_racing_logins_leave_at_most_the_per_user_limit_of_sessions(redis, django_user_model):
    # The server runs sessionsite.settings, whose hashers do not include the tests' MD5:
    # the password is stored with the server's own first hasher, Argon2.
    with override_settings(PASSWORD_HASHERS=[ARGON2]):
        user = django_user_model.objects.create_user(
            username="racer", email="racer@example.com", password=PASSWORD
        )
    assert user.password.startswith("argon2")
    browsers = [Browser() for _ in range(RACERS)]
    with gunicorn(
        workers=2, threads=4, SESSION_MAX_PER_USER=str(LIMIT), LOGIN_RATE_LIMIT="100/15m"
    ) as (base, _log):
        statuses = race_logins(base, browsers, "racer", [PASSWORD] * RACERS)
        assert statuses == [200] * RACERS

        still_in = []
        for browser in browsers:
            status, _, body = browser.request("GET", f"{base}/api/profile")
            assert status in (200, 401), body
            if status == 200:
                assert body["user"]["username"] == "racer"
                still_in.append(body["session"]["id"])
    listed = [record.id for record in services.list_user_sessions(user.pk)]
    assert 1 <= len(still_in) <= LIMIT
    assert len(listed) <= LIMIT
    assert sorted(still_in) == sorted(listed)


GUESSERS = 20
GUESS_LIMIT = 5


def test_concurrent_wrong_guesses_check_at_most_the_limit_of_passwords(redis, django_user_model):
    # Each attempt is counted before the (slow, Argon2) hash, atomically with the check of
    # the limit: 20 guesses at once cannot all pass a check made before any is recorded.
    with override_settings(PASSWORD_HASHERS=[ARGON2]):
        django_user_model.objects.create_user(
            username="target", email="target@example.com", password=PASSWORD
        )
    browsers = [Browser() for _ in range(GUESSERS)]
    with gunicorn(workers=2, threads=8, LOGIN_RATE_LIMIT=f"{GUESS_LIMIT}/15m") as (base, _log):
        guesses = [f"guess {n}" for n in range(GUESSERS)]
        statuses = race_logins(base, browsers, "target", guesses)
        # 401: the password was checked (and wrong); 429: refused before any hash.
        assert sorted(set(statuses)) == [401, 429], statuses
        assert statuses.count(401) == GUESS_LIMIT
        assert statuses.count(429) == GUESSERS - GUESS_LIMIT
        # And the right password is refused now, from any of them.
        assert race_logins(base, browsers[:1], "target", [PASSWORD]) == [429]
