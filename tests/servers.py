"""Real server processes for tests: gunicorn on a free loopback port, and a small client."""

from __future__ import annotations

import http.cookiejar
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from bench.common import stop_process, wait_until_serving

BASE_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """Return a URL for the test database, for a server process to share it."""
    conf = connection.settings_dict
    if conf["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{conf['NAME']}"
    user, host = conf.get("USER") or "postgres", conf.get("HOST") or "127.0.0.1"
    return f"postgres://{user}@{host}:{conf.get('PORT') or 5432}/{conf['NAME']}"


def server_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "sessionsite.settings",
            "SECRET_KEY": settings.SECRET_KEY,
            "REDIS_URL": settings.REDIS_URL,
            "DATABASE_URL": database_url(),
            "DEBUG": "0",
            "HTTPS": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
    )
    env.update(extra)
    return env


def run_suite(paths: list[str], redis_url: str, database: Path, timeout: int) -> str:
    """Run the tests ``paths`` in a pytest of their own against the Redis ``redis_url``
    (a cluster, another redis-server), with a SQLite test database of their own at
    ``database`` (this run's stays in use meanwhile; PostgreSQL names the nested one after
    this run's, test_test_…). Assert they passed; return pytest's summary line."""
    env = server_env(REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="tests.settings")
    env["TEST_SQLITE_NAME"] = str(database)
    env.pop("PYTEST_XDIST_WORKER", None)
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         *paths],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    summary = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else ""
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-3000:]
    assert " passed" in summary and "failed" not in summary
    return summary


@contextmanager
def _serve(command: list[str], name: str, port: int, env: dict[str, str]):
    """Run a server command, wait until /healthz answers; yield its base URL and log."""
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"{name}-{port}.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=server_env(**env), stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_serving(base, process):
            raise RuntimeError(f"{name} did not start:\n{log.read_text()}")
        yield base, log
    finally:
        stop_process(process)


@contextmanager
def gunicorn(workers: int = 2, threads: int = 4, **env: str):
    """Run gunicorn with the project on a free port; yield its base URL and its log path."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "sessionsite.wsgi",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
        "--access-logfile", "-", "--access-logformat", "pid=%(p)s %(s)s %(r)s",
        "--graceful-timeout", "2",
        # The control socket's default path is shared by every gunicorn on the machine.
        "--no-control-socket",
    ]  # fmt: skip
    with _serve(command, "gunicorn", port, env) as served:
        yield served


@contextmanager
def runserver(**env: str):
    """Run ``manage.py runserver --noreload`` on a free port; yield its base URL."""
    port = free_port()
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    with _serve(command, "runserver", port, env) as (base, _):
        yield base


class Browser:
    """A minimal HTTP client with a cookie jar, like one browser."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def request(
        self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(req, timeout=10) as response:
                status, head, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            status, head, raw = error.code, dict(error.headers), error.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        return status, head, payload

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)


def signed_in_browser(
    base: str, username: str = "alice", password: str = "correct horse 9"
) -> tuple[Browser, dict[str, str]]:
    """Return a browser signed in over the JSON API, and the CSRF header its unsafe
    requests send."""
    browser = Browser()
    _, _, body = browser.request("GET", f"{base}/api/csrf")
    status, _, answer = browser.request(
        "POST", f"{base}/api/login", {"username": username, "password": password},
        headers={"X-CSRFToken": body["csrfToken"]},
    )  # fmt: skip
    assert status == 200, answer
    _, _, body = browser.request("GET", f"{base}/api/csrf")
    return browser, {"X-CSRFToken": body["csrfToken"]}
