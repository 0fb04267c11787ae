"""sessionadmin as a stranger's project gets it: its wheel, installed with plain Django into
a fresh virtualenv, in a ``django-admin startproject`` site configured exactly as the
README's "Use it in your own project" says, driven over HTTP against ``runserver``.

Twice: with Django's own User, and with a custom user model whose key is a UUID.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
import redis as redis_py
from django.conf import settings

from bench.common import stop_process, wait_until_serving
from tests.servers import free_port
from tests.settings import _with_db

pytestmark = [pytest.mark.server, pytest.mark.slow]

BASE_DIR = Path(__file__).resolve().parents[2]
HOST_REDIS_DB = 14  # apart from the suite's own database 15
PASSWORD = "a host project password 7"
MAX_PER_USER = 3
WINDOW = 6  # seconds of the login limit's window in the host project

# What the test adds beyond the README's block: small limits to observe, a fast hasher.
TEST_EXTRAS = f"""
SESSION_MAX_PER_USER = {MAX_PER_USER}
LOGIN_RATE_LIMIT = "5/{WINDOW}s"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # quick test logins
"""

UUID_MODEL = """import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
"""
UUID_ADMIN = """from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from people.models import User

admin.site.register(User, UserAdmin)
"""


def readme_settings() -> str:
    """Return the settings block of the README's "Use it in your own project" section."""
    text = (BASE_DIR / "README.md").read_text()
    marker = text.index("<!-- install-settings")
    match = re.compile(r"```python\n(.*?)```", re.S).search(text, marker)
    assert match, "the README's install-settings block is missing"
    return match.group(1)


def run(*command: str | Path, cwd: Path, env: dict | None = None) -> str:
    result = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh virtualenv holding the built wheel and what it declares: plain Django."""
    root = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", root / "dist", ".",
        cwd=BASE_DIR)  # fmt: skip
    wheels = list((root / "dist").glob("django_sessionadmin-*.whl"))
    assert len(wheels) == 1, wheels
    names = run(sys.executable, "-m", "zipfile", "-l", wheels[0], cwd=root)
    assert "sessionadmin/store/lua/write.lua" in names
    assert "sessionadmin/templates/sessionadmin/dashboard.html" in names
    assert "sessionadmin/static/sessionadmin/session-timeout.js" in names
    for other in ("sessionsite/", "accounts/", "cart/", "tests/", "bench/"):
        assert other not in names, f"the wheel holds {other}"
    run(sys.executable, "-m", "venv", root / "venv", cwd=root)
    python = root / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", wheels[0], cwd=root)
    return python


@pytest.fixture
def redis_url():
    url = _with_db(settings.CACHES["sessions"]["LOCATION"], HOST_REDIS_DB)
    client = redis_py.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


class Visitor:
    """One browser: a cookie jar, form posts with the CSRF token, no redirects followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect
        )

    def open(self, path: str, form: dict | None = None) -> tuple[int, dict, str]:
        data = None
        if form is not None:
            token = next(c.value for c in self.jar if c.name == "csrftoken")
            data = urllib.parse.urlencode({**form, "csrfmiddlewaretoken": token}).encode()
        request = urllib.request.Request(self.base + path, data=data)
        request.add_header("Referer", self.base + path)
        try:
            with self.opener.open(request, timeout=15) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def sign_in(self, username: str, password: str) -> int:
        self.open("/admin/login/")
        status, _, _ = self.open(
            "/admin/login/", {"username": username, "password": password, "next": "/admin/"}
        )
        return status

    def session_cookie(self) -> str | None:
        return next((c.value for c in self.jar if c.name == "sessionid"), None)


def make_site(root: Path, python: Path, custom_user: bool, env: dict) -> Path:
    """startproject, the README's settings, migrate, a superuser; return the site's folder."""
    site = root / "site"
    site.mkdir()
    run(python.parent / "django-admin", "startproject", "hostsite", site, cwd=root)
    extras = TEST_EXTRAS
    if custom_user:
        people = site / "people"
        people.mkdir()
        (people / "__init__.py").write_text("")
        (people / "models.py").write_text(UUID_MODEL)
        (people / "admin.py").write_text(UUID_ADMIN)
        extras += 'INSTALLED_APPS += ["people"]\nAUTH_USER_MODEL = "people.User"\n'
    # The optional staff JSON API and /metrics, mounted as the README says.
    urls = site / "hostsite" / "urls.py"
    urls.write_text(
        urls.read_text().replace(
            "from django.urls import path", "from django.urls import include, path"
        )
        + "from sessionadmin.exporter import metrics_view\n"
        + 'urlpatterns += [path("api/admin/", include("sessionadmin.api.urls")),\n'
        + '                path("metrics", metrics_view)]\n'
    )
    settings_file = site / "hostsite" / "settings.py"
    settings_file.write_text(settings_file.read_text() + "\n" + readme_settings() + extras)
    if custom_user:
        run(python, "manage.py", "makemigrations", "people", cwd=site, env=env)
    run(python, "manage.py", "check", "--fail-level", "WARNING", cwd=site, env=env)
    run(python, "manage.py", "migrate", "--noinput", cwd=site, env=env)
    admin_env = {**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    run(python, "manage.py", "createsuperuser", "--noinput", "--username", "boss",
        "--email", "boss@example.com", cwd=site, env=admin_env)  # fmt: skip
    return site


def listed_sessions(python: Path, site: Path, env: dict) -> list[dict]:
    out = run(python, "manage.py", "sessions", "list", "--user", "boss", "--json",
              cwd=site, env=env)  # fmt: skip
    return json.loads(out)


@pytest.mark.parametrize("custom_user", [False, True], ids=["django-user", "uuid-user"])
def test_the_installed_wheel_keeps_its_promises_in_a_fresh_project(
    venv, redis_url, tmp_path, custom_user
):
    env = {"PATH": str(venv.parent), "REDIS_URL": redis_url, "HOME": str(tmp_path)}
    site = make_site(tmp_path, venv, custom_user, env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(tmp_path / "runserver.log", "w") as log:
        server = subprocess.Popen(
            [str(venv), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=site, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        assert wait_until_serving(base, server, path="/admin/login/"), (
            tmp_path / "runserver.log"
        ).read_text()
        # Sign in at the admin, open "Active sessions" from the admin index.
        boss = Visitor(base)
        assert boss.sign_in("boss", PASSWORD) == 302
        status, _, index = boss.open("/admin/")
        assert status == 200
        link = re.search(r'<a href="([^"]+)">Active sessions</a>', index)
        assert link, "no Active sessions on the admin index"
        status, _, dashboard = boss.open(link.group(1))
        assert status == 200, dashboard[:500]
        assert 'id="result_list"' in dashboard and ">boss</a>" in dashboard
        (listed,) = listed_sessions(venv, site, env)
        assert listed["user"]["username"] == "boss"
        user_id = listed["user"]["id"]
        assert isinstance(user_id, str if custom_user else int)
        # The user's own admin page, from the model's own admin URL name.
        model_path = "people/user" if custom_user else "auth/user"
        assert f'href="/admin/{model_path}/{user_id}/change/"' in dashboard
        assert boss.session_cookie() not in dashboard  # only public ids, never keys

        # 12 more admin logins leave at most SESSION_MAX_PER_USER sessions.
        for _ in range(12):
            assert Visitor(base).sign_in("boss", PASSWORD) == 302
        assert len(listed_sessions(venv, site, env)) <= MAX_PER_USER

        # 12 wrong passwords are limited, then the right one is refused until the window
        # has passed.
        started = time.monotonic()
        guesser = Visitor(base)
        statuses = [guesser.sign_in("boss", "wrong password") for _ in range(12)]
        assert statuses == [200] * 5 + [429] * 7, statuses
        assert guesser.sign_in("boss", PASSWORD) == 429
        _, _, page = guesser.open("/admin/login/", {"username": "boss", "password": PASSWORD})
        assert "Too many failed sign-in attempts" in page
        assert time.monotonic() - started < WINDOW
        time.sleep(max(0.0, WINDOW + 0.5 - (time.monotonic() - started)))
        late = Visitor(base)
        assert late.sign_in("boss", PASSWORD) == 302

        # Admin logout removes the session.
        before = {s["id"] for s in listed_sessions(venv, site, env)}
        status, _, _ = late.open("/admin/logout/", {})
        assert status == 200
        after = {s["id"] for s in listed_sessions(venv, site, env)}
        assert len(after) == len(before) - 1

        # The staff API, by the user's own id (an integer or a UUID).
        staff = Visitor(base)
        assert staff.sign_in("boss", PASSWORD) == 302
        status, _, body = staff.open(f"/api/admin/sessions?user={user_id}")
        assert status == 200, body
        rows = json.loads(body)["results"]
        assert rows and {row["user"]["id"] for row in rows} == {user_id}
        status, _, body = staff.open(f"/api/admin/users/{user_id}/revoke-sessions", {})
        assert status == 200, body
        assert json.loads(body)["revoked"] == len(rows)
        assert listed_sessions(venv, site, env) == []

        # Each of those endings is in the event log, by staff; the counters saw them.
        staff = Visitor(base)  # its own session was one of those revoked
        assert staff.sign_in("boss", PASSWORD) == 302
        status, _, body = staff.open(f"/api/admin/sessions/events?user={user_id}&kind=revoked")
        assert status == 200, body
        ended = json.loads(body)["results"]
        assert len(ended) == len(rows) and {r["by"] for r in ended} == {"staff"}
        status, _, body = Visitor(base).open("/metrics")  # from loopback
        assert status == 200, body
        assert f'sessionadmin_revocations_total{{by="staff"}} {float(len(rows))}' in body
    finally:
        stop_process(server)
