"""The embedded Redis: start once, reuse, stop, keep data across restarts."""

from __future__ import annotations

import io
import threading

import pytest
from django.core.management import call_command

from sessionsite.embedded import EmbeddedRedis, redis_server_binary, socket_path_for


@pytest.fixture
def server(tmp_path):
    embedded = EmbeddedRedis(tmp_path / "redis")
    yield embedded
    embedded.stop()


def test_start_then_reuse(server):
    assert server.start() is True
    pid = server.pid()
    assert server.start() is False  # already running: reused, not started twice
    assert server.pid() == pid
    status = server.status()
    assert status.running and status.aof_enabled
    assert server.client().config_get("appendfsync")["appendfsync"] == "everysec"
    assert server.client().config_get("port")["port"] == "0"  # unix socket only


def test_concurrent_starts_run_one_server(server):
    results = []
    threads = [threading.Thread(target=lambda: results.append(server.start())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]


def test_data_survives_a_restart(server):
    server.start()
    server.client().set("kept", "yes")
    assert server.stop() is True
    assert not server.is_running()
    server.start()
    assert server.client().get("kept") == b"yes"


def test_stop_when_not_running_says_so(server):
    assert server.stop() is False
    assert server.status().running is False


def test_long_directories_get_a_short_socket_path(tmp_path):
    deep = tmp_path / ("d" * 120)
    assert len(str(socket_path_for(deep))) <= 100


def test_a_redis_server_binary_is_found():
    assert redis_server_binary().endswith("redis-server")


def test_command_reports_status_and_stops(server, settings, capsys):
    settings.EMBEDDED_REDIS_DIR = server.directory
    call_command("embedded_redis", "start")
    call_command("embedded_redis", "status")
    out = capsys.readouterr().out
    assert "running, pid" in out and str(server.socket) in out
    call_command("embedded_redis", "stop")
    assert "stopped" in capsys.readouterr().out
    call_command("embedded_redis", "status", "--json")
    assert '"running": false' in capsys.readouterr().out


@pytest.mark.parametrize("action", ["start", "stop", "status"])
def test_command_says_which_server_and_succeeds_when_redis_url_is_set(settings, action):
    # `make run` and `make redis-stop` go on with the server REDIS_URL names.
    settings.EMBEDDED_REDIS_DIR = None
    settings.REDIS_URL = "redis://:s3cret@127.0.0.1:6379/0"
    out = io.StringIO()
    call_command("embedded_redis", action, stdout=out)
    assert "REDIS_URL is set: using redis://***@127.0.0.1:6379/0" in out.getvalue()
    assert "s3cret" not in out.getvalue()
