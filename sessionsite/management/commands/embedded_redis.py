"""``manage.py embedded_redis start|stop|status``: the development Redis under var/redis/."""

from __future__ import annotations

import json
from dataclasses import asdict

from django.conf import settings
from django.core.management.base import BaseCommand

from sessionsite.embedded import EmbeddedRedis
from sessionsite.env import redacted_url


class Command(BaseCommand):
    help = "Start, stop or inspect the embedded Redis used when REDIS_URL is unset."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["start", "stop", "status"])
        parser.add_argument("--json", action="store_true", dest="as_json", help="status as JSON")

    def handle(self, *args, action: str, as_json: bool = False, **options) -> None:
        directory = getattr(settings, "EMBEDDED_REDIS_DIR", None)
        if directory is None:
            # `make run` and `make redis-stop` go on with the server REDIS_URL names.
            self.stdout.write(
                f"REDIS_URL is set: using {redacted_url(settings.REDIS_URL)}; "
                "no embedded Redis to start, stop or inspect."
            )
            return
        server = EmbeddedRedis(directory)
        if action == "start":
            started = server.start()
            self.stdout.write(
                f"embedded Redis {'started' if started else 'already running'} on {server.socket}"
            )
        elif action == "stop":
            stopped = server.stop()
            self.stdout.write(
                "embedded Redis stopped" if stopped else "embedded Redis not running"
            )
        else:
            self._status(server, as_json=as_json)

    def _status(self, server: EmbeddedRedis, *, as_json: bool) -> None:
        status = server.status()
        if as_json:
            self.stdout.write(json.dumps(asdict(status)))
            return
        if not status.running:
            self.stdout.write(f"embedded Redis: not running (data kept in {status.directory})")
            return
        self.stdout.write(
            f"embedded Redis {status.version}: running, pid {status.pid}\n"
            f"  socket: {status.socket}\n  data: {status.directory} "
            f"(append-only: {'yes' if status.aof_enabled else 'no'})\n"
            f"  keys: {status.keys}, memory: {status.used_memory_human}"
        )
