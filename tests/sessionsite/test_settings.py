"""Settings come from the environment; bad values stop start-up naming the variable."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
PRINT = "from django.conf import settings as s; print(repr({}))"


def run(expression: str, **env: str) -> subprocess.CompletedProcess:
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    clean.update(
        {"DJANGO_SETTINGS_MODULE": "sessionsite.settings", "REDIS_URL": "redis://127.0.0.1:1/0"}
    )
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", PRINT.format(expression)],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults():
    result = run(
        "(s.SESSION_IDLE_TIMEOUT, s.SESSION_ABSOLUTE_TIMEOUT, s.SESSION_MAX_PER_USER, "
        "s.LOGIN_RATE_LIMIT, s.ALLOWED_HOSTS, s.DEBUG, s.DATABASES['default']['ENGINE'], "
        "s.SESSION_COOKIE_SECURE)",
        SECRET_KEY="k" * 50,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "(1800, 28800, 10, '5/15m', ['localhost', '127.0.0.1'], False, "
        "'django.db.backends.sqlite3', True)"
    )


def test_values_are_read_from_the_environment():
    result = run(
        "(s.SESSION_IDLE_TIMEOUT, s.SESSION_MAX_PER_USER, s.ALLOWED_HOSTS, "
        "s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'], s.LOGIN_RATE_LIMIT)",
        SECRET_KEY="k" * 50,
        SESSION_IDLE_TIMEOUT="60",
        SESSION_MAX_PER_USER="0",
        ALLOWED_HOSTS="example.com, www.example.com",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        LOGIN_RATE_LIMIT="10/h",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "(60, 0, ['example.com', 'www.example.com'], "
        "'django.db.backends.postgresql', 'test', '10/h')"
    )


def test_refuses_to_start_without_secret_key_when_debug_is_off():
    result = run("s.SECRET_KEY", DEBUG="0")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0  # one line, no traceback
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SESSION_IDLE_TIMEOUT", "abc", "SESSION_IDLE_TIMEOUT='abc' is not a whole number"),
        ("SESSION_IDLE_TIMEOUT", "-5", "SESSION_IDLE_TIMEOUT=-5 must be at least 1"),
        ("SESSION_ABSOLUTE_TIMEOUT", "1.5", "SESSION_ABSOLUTE_TIMEOUT='1.5' is not a whole"),
        ("SESSION_MAX_PER_USER", "-1", "SESSION_MAX_PER_USER=-1 must be at least 0"),
        ("DEBUG", "maybe", "DEBUG='maybe' is not a boolean"),
        ("LOGIN_RATE_LIMIT", "five", "LOGIN_RATE_LIMIT='five' is not a rate"),
        ("REDIS_URL", "http://x", "REDIS_URL='http://x' is not a redis://"),
        ("DATABASE_URL", "nonsense://x", "DATABASE_URL"),
        ("ALLOWED_HOSTS", " , ", "ALLOWED_HOSTS is set but lists nothing"),
    ],
)
def test_malformed_values_stop_start_up_naming_the_variable(name, value, message):
    result = run("s.SESSION_IDLE_TIMEOUT", SECRET_KEY="k" * 50, **{name: value})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert message in result.stderr


def test_a_malformed_redis_url_is_named_without_its_password():
    # The message goes to the server's log: the password must not.
    said = {}
    bad = [
        "http://app:s3cret-pw@x:1/0", "redis+cluster://app:s3cret-pw@h:x",
        "redis://app:s3cret-pw@x:port/0", "rediss://app:s3cr/et-pw@x:1/0",
        "redis:/app:s3cret-pw@h:1/0", "app:s3cret-pw@h:1/0", "http://app:pw@[::1:1/0",
        "http://h:1/0?password=s3cret-pw", "redis+cluster://s3cret-pw@h:x",
        "redis://app:s3cr?et-pw@x:1/0", "redis://app:s3cr#x?et-pw@x:1/0",
        "rediss+cluster://app:7000?s3cret-pw@h:7001", "redis://h:1/0?cache_config=s3cret-pw",
    ]  # fmt: skip
    for url in bad:
        result = run("s.SESSION_IDLE_TIMEOUT", SECRET_KEY="k" * 50, REDIS_URL=url)
        assert result.returncode == 1
        assert "REDIS_URL" in result.stderr and "Traceback" not in result.stderr
        assert "s3cret-pw" not in result.stderr and "s3cr" not in result.stderr, result.stderr
        assert result.stderr.strip().count("\n") == 0, result.stderr  # one line
        said[url] = result.stderr
    assert "'http://***@x:1/0' is not a redis://" in said["http://app:s3cret-pw@x:1/0"]
    assert "'redis://***@x:port/0' is not a valid Redis URL" in said[bad[2]]


def test_debug_generates_a_key_once_and_keeps_it_private():
    digest = "__import__('hashlib').sha256(s.SECRET_KEY.encode()).hexdigest()"
    first = run(digest, DEBUG="1")
    second = run(digest, DEBUG="1")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    mode = stat.S_IMODE((BASE_DIR / "var" / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_debug_off_uses_secure_host_prefixed_cookies_unless_https_is_off():
    names = "(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE)"
    secure = run(names, SECRET_KEY="k" * 50)
    assert secure.stdout.strip() == "('__Host-sessionid', '__Host-csrftoken', True)"
    plain = run(names, SECRET_KEY="k" * 50, HTTPS="0")
    assert plain.stdout.strip() == "('sessionid', 'csrftoken', False)"


def test_embedded_redis_is_used_when_redis_url_is_unset():
    result = run(
        "(s.EMBEDDED_REDIS_DIR is not None, s.CACHES['sessions']['LOCATION'])",
        SECRET_KEY="k" * 50,
        REDIS_URL="",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("(True, 'unix://")
    assert "var/redis/redis.sock" in result.stdout


def test_error_reports_never_show_the_redis_password(settings):
    from django.views.debug import get_default_exception_reporter_filter

    url = "redis://app:s3cret-pw@redis.example:6379/0"
    settings.REDIS_URL = url
    settings.CACHES = {**settings.CACHES, "extra": {**settings.CACHES["default"], "LOCATION": url}}
    shown = get_default_exception_reporter_filter().get_safe_settings()
    assert "s3cret-pw" not in repr(shown)
    assert shown["REDIS_URL"] == shown["CACHES"]["extra"]["LOCATION"] == "********************"
    assert shown["CACHES"]["extra"]["BACKEND"] == settings.CACHES["default"]["BACKEND"]


def test_error_reports_hide_what_a_tracebacks_locals_hold_of_credentials(rf, settings):
    # A report mailed to ADMINS (DEBUG off) shows each frame's local variables.
    import re
    import sys

    from django.utils.functional import SimpleLazyObject
    from django.views.debug import ExceptionReporter

    from sessionadmin.store.codec import ClientInfo
    from sessionsite.reporting import SettingsFilter

    settings.DEBUG = False
    # Made at run time: the report also shows the source around each frame's line.
    the_pass, session_key = "-".join(["s3cret", "pw"]), "k3y0f" + "asession" + "0" * 23

    def unavailable() -> object:
        raise ConnectionError("the store is down")

    def connect() -> None:
        url = f"rediss://app:{the_pass}@redis.example:6380/0"  # noqa: F841 (in the report)
        dsn = f"redis://redis.example:6381/0?password={the_pass}&db=2"  # noqa: F841
        wire = f"redis://:{the_pass}@h:1/0".encode()  # noqa: F841
        raw_key = session_key  # noqa: F841
        options = {  # noqa: F841
            "LOCATION": [f"redis+sentinel://u:{the_pass}@h:1/svc?sentinel_password={the_pass}"],
            "SENTINEL_KWARGS": {"password": the_pass, "socket_" + "timeout": 0.5},
        }
        looped: list = [f"redis://:{the_pass}@h:1/0"]
        looped.append(looped)  # a cycle: the report is still made
        record = ClientInfo("10.0.0." + "1", "curl")  # noqa: F841 (a named tuple, whole)
        lazy = {"user": SimpleLazyObject(unavailable)}  # noqa: F841 (never evaluated)
        raise ValueError("cannot connect")

    try:
        connect()
    except ValueError:
        exc_info = sys.exc_info()
    reporter = ExceptionReporter(rf.get("/"), *exc_info)
    assert isinstance(reporter.filter, SettingsFilter)  # the project's, from its settings
    html = reporter.get_traceback_html()
    assert the_pass not in html and session_key not in html
    assert the_pass not in reporter.get_traceback_text()
    # What is left shown, in the tables of local variables (not the source lines).
    shown = "".join(re.findall(r'<table class="vars".*?</table>', html, flags=re.S))
    assert "***@redis.example:6380" in shown and "app:***@" not in shown
    assert "redis.example:6381/0?password=***&amp;db=2" in shown
    assert "socket_timeout" in shown and "10.0.0.1" in shown and "SimpleLazyObject" in shown


def test_error_reports_hide_the_requests_own_credentials_whatever_holds_them(rf, settings):
    # The failed request's session key (a sign-in holds it as carry_from, then old), its
    # bearer token and its trusted-device cookie: hidden by value, in every local, and
    # the device cookie in the report's COOKIES too.
    import sys

    from django.views.debug import ExceptionReporter

    from sessionadmin.backends.redis import SessionStore
    from sessionadmin.conf import get_settings

    settings.DEBUG = False
    session_key, token = "q" * 7 + "prelogin" + "7" * 17, "sat_" + "t0ken" * 8
    device, new_key = "alice:" + "n0nce" * 6, "n" * 9 + "afterlogin" + "8" * 13
    request = rf.get("/", HTTP_AUTHORIZATION=f"Bearer {token}")
    request.session = SessionStore(new_key)  # the key a sign-in has just moved it to
    request.COOKIES = {
        settings.SESSION_COOKIE_NAME: session_key,
        get_settings().device_cookie_name: device,
        "theme": "dark-and-stormy",
    }

    def sign_in(carry_from: str) -> None:
        old = {"from": [carry_from]}  # noqa: F841 (in the report)
        seen = f"Bearer {token}"  # noqa: F841
        trusted = device.encode()  # noqa: F841
        moved_to = [new_key]  # noqa: F841
        raise ValueError("cannot carry the session over")

    try:
        sign_in(session_key)
    except ValueError:
        exc_info = sys.exc_info()
    reporter = ExceptionReporter(request, *exc_info)
    html, text = reporter.get_traceback_html(), reporter.get_traceback_text()
    for secret in (session_key, token, device, new_key):
        assert secret not in html and secret not in text, secret
    assert "dark-and-stormy" in html  # another cookie is shown as Django shows it


def test_hiding_credentials_takes_linear_time():
    # A local may be a large request body: the patterns never backtrack over it. (With
    # an unbounded scheme this one took minutes; linear, well under a second.)
    import time

    from sessionsite.reporting import hide_credentials

    started = time.monotonic()
    hide_credentials("foo-bar." * 125_000 + "://")
    assert time.monotonic() - started < 10
