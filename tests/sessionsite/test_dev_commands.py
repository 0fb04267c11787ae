"""The development commands as a new user runs them: `make run` and `make redis-stop`
with REDIS_URL set, and manage.py without exports once `make run` wrote the .env."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.common import wait_until_serving
from sessionsite.embedded import EmbeddedRedis
from tests.servers import free_port

pytestmark = [pytest.mark.server, pytest.mark.slow]

BASE_DIR = Path(__file__).resolve().parents[2]


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A shell's environment: no DEBUG, no SECRET_KEY, the checkout's own .env unread."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"  # not the checkout's
    env["SESSIONSITE_DOTENV"] = str(tmp_path / "missing.env")
    env.update(extra)
    return env


@pytest.fixture
def own_redis(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    yield server.url
    server.stop()


@contextmanager
def make_target(target: str, env: dict[str, str], log: Path):
    """Run `make <target> PORT=<free port>` in its own process group; yield its base URL
    once it answers (bench.common's wait), and stop the whole group afterwards."""
    port = free_port()
    with open(log, "w") as out:
        process = subprocess.Popen(
            ["make", target, f"PORT={port}"], cwd=BASE_DIR, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_serving(base, process, seconds=120), log.read_text()[-3000:]
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)


def test_make_run_with_redis_url_serves_and_starts_no_embedded_redis(tmp_path, own_redis):
    env = clean_env(
        tmp_path, REDIS_URL=own_redis, DOTENV=str(tmp_path / ".env"), SECRET_KEY="k" * 50
    )
    log = tmp_path / "run.log"
    with make_target("run", env, log) as base:
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            assert response.status == 200
        assert "REDIS_URL is set: using unix://" in log.read_text()


def test_make_redis_stop_with_redis_url_exits_zero(tmp_path, own_redis):
    result = subprocess.run(
        ["make", "redis-stop"], cwd=BASE_DIR, capture_output=True, text=True, timeout=120,
        env=clean_env(tmp_path, REDIS_URL=own_redis, SECRET_KEY="k" * 50),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no embedded Redis to start, stop or inspect" in result.stdout


def test_manage_py_works_without_exports_once_make_run_wrote_the_env(tmp_path, own_redis):
    dotenv = tmp_path / ".env"
    made = subprocess.run(
        ["make", "-s", f"DOTENV={dotenv}", str(dotenv)], cwd=BASE_DIR, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "DEBUG=1" in dotenv.read_text()
    python = sys.executable
    superuser = ["createsuperuser", "--noinput", "--username", "root", "--email", "r@x.io"]
    for env in (
        clean_env(tmp_path, REDIS_URL=own_redis),  # no .env: refused, and says why
        clean_env(tmp_path, REDIS_URL=own_redis, SESSIONSITE_DOTENV=str(dotenv)),
    ):
        env["DJANGO_SUPERUSER_PASSWORD"] = "a long passphrase 77"
        migrate = subprocess.run(
            [python, "manage.py", "migrate", "--noinput"], cwd=BASE_DIR, env=env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if env["SESSIONSITE_DOTENV"].endswith("missing.env"):
            assert migrate.returncode != 0
            assert "SECRET_KEY is not set" in migrate.stderr
            continue
        assert migrate.returncode == 0, migrate.stderr
        created = subprocess.run(
            [python, "manage.py", *superuser], cwd=BASE_DIR, env=env, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        assert "Superuser created successfully." in created.stdout


def test_make_serve_refuses_without_a_secret_key(tmp_path):
    result = subprocess.run(
        ["make", "-s", "serve"], cwd=BASE_DIR, capture_output=True, text=True, timeout=120,
        env=clean_env(tmp_path),
    )  # fmt: skip
    assert result.returncode != 0
    assert "set SECRET_KEY" in result.stderr


def test_make_serve_runs_production_settings_with_static_files(tmp_path, own_redis):
    env = clean_env(tmp_path, REDIS_URL=own_redis, SECRET_KEY="s" * 50, HTTPS="0")
    with make_target("serve", env, tmp_path / "serve.log") as base:
        with urllib.request.urlopen(f"{base}/", timeout=5) as response:
            page = response.read().decode()
        # DEBUG off: hashed static names from the manifest, served by WhiteNoise.
        css = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', page)
        assert css, page[:2000]
        with urllib.request.urlopen(base + css.group(1), timeout=5) as response:
            assert response.status == 200
            assert "max-age=315360000" in response.headers["Cache-Control"]
