"""What the benchmarks share: a throwaway Redis, a gunicorn of the project, a database,
wrk, and the figures' arithmetic. Never the development data: everything lives in a
temporary directory the caller owns.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

PYTHON = sys.executable
SECRET_KEY = secrets.token_urlsafe(50)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of the benchmark's own, on a loopback port, that can be stopped and
    started again (with ``appendonly``, what it held comes back from its AOF)."""

    def __init__(self, directory: Path, *, appendonly: bool = False) -> None:
        self.directory = directory
        self.port = free_port()
        self.appendonly = appendonly
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        from sessionsite.embedded import redis_server_binary

        command = [
            redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--dir", str(self.directory), "--loglevel", "warning",
            "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "everysec",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise SystemExit("bench: redis-server did not start")

    def stop(self) -> None:
        """Stop the server as a crash would not: SIGTERM, which flushes the AOF."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(10)
        self.process = None

    def client(self):
        import redis

        return redis.Redis.from_url(self.url)


USER_AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
]


def make_users(count: int, prefix: str = "user", password_hash: str | None = None) -> list[int]:
    """Create users ``<prefix>0``..., in bulk; return their ids. Without ``password_hash``
    they cannot sign in (no hashing: a million users take seconds)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX

    model = get_user_model()
    password = password_hash or UNUSABLE_PASSWORD_PREFIX
    names = [f"{prefix}{i}" for i in range(count)]
    model.objects.bulk_create(
        (model(username=n, email=f"{n}@example.com", password=password) for n in names),
        batch_size=5000,
    )
    return list(model.objects.filter(username__in=names).values_list("pk", flat=True))


def project_env(redis_url: str, database: Path, **extra: str) -> dict[str, str]:
    """The environment a server process of the project runs with in a benchmark."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "sessionsite.settings",
            "REDIS_URL": redis_url,
            "DATABASE_URL": f"sqlite:///{database}",
            "SECRET_KEY": SECRET_KEY,
            "DEBUG": "0",
            "HTTPS": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONPATH": str(BASE_DIR),
            # Every virtual client shares one loopback address: per-address limits (sign-in
            # attempts in flight, new guest sessions a minute) would measure that instead.
            "LOGIN_RATE_LIMIT": "10000/1m",
            "NEW_SESSIONS_PER_MINUTE": "0",
        }
    )
    env.update(extra)
    return env


def configure_django(redis_url: str, database: Path, **extra: str) -> None:
    """Set up Django in this process against the benchmark's Redis and database; migrate."""
    os.environ.update(project_env(redis_url, database, **extra))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@contextmanager
def gunicorn(
    env: dict[str, str], *, workers: int = 2, threads: int = 4, log: Path | None = None
) -> Iterator[str]:
    """Start the project as the README says production runs it, ``make serve``
    (collectstatic, migrate, then gunicorn with DEBUG off), on a free port; yield its URL.

    A step that ``make serve`` lacks (a static file missing from the manifest, say) then
    fails the benchmark as it would fail a deployment.
    """
    port = free_port()
    metrics = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    command = [
        "make", "-s", "serve", f"PORT={port}", f"WORKERS={workers}", f"THREADS={threads}",
        f"METRICS_DIR={metrics}", f"PY={PYTHON}",
    ]  # fmt: skip
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        command, cwd=BASE_DIR, env=env, stdout=out, stderr=out, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_serving(base, process, seconds=90):
            raise SystemExit(f"bench: make serve did not start (log: {log})")
        yield base
    finally:
        stop_process(process, group=True)
        shutil.rmtree(metrics, ignore_errors=True)
        if log:
            out.close()


def wait_until_serving(
    base: str, process: subprocess.Popen, seconds: float = 30, path: str = "/healthz"
) -> bool:
    """Poll ``base`` + ``path`` until it answers; False if the process exits or time runs out.

    Shared with the tests' server harness (tests/servers.py).
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(f"{base}{path}", timeout=2)  # noqa: S310 (http://)
            return True
        except (urllib.error.URLError, OSError):  # refused, reset, or slow to answer
            if process.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.1)


def stop_process(process: subprocess.Popen, *, group: bool = False) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s (``group``: the process and
    its children, as ``make`` and the gunicorn it started)."""

    def send(sig: int) -> None:
        with suppress(ProcessLookupError):
            if group:
                os.killpg(process.pid, sig)
            else:
                process.send_signal(sig)

    send(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait(5)
    if group:
        send(signal.SIGKILL)  # a worker that outlived make


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    latency_p50_ms: float
    latency_p99_ms: float
    non_2xx: int
    errors: int


def wrk_binary() -> str | None:
    return shutil.which("wrk")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    headers: dict[str, str] | None = None,
    script: Path | None = None,
) -> WrkResult:
    """Drive ``url`` with wrk (one thread: the machine has few cores) and parse its report;
    ``script``: a wrk Lua script making the requests (method, body)."""
    command = [wrk_binary(), "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script is not None:
        command += ["-s", str(script)]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
        out,
    )
    return WrkResult(
        rps,
        p50,
        p99,
        int(non_2xx.group(1)) if non_2xx else 0,
        sum(int(g) for g in errors.groups()) if errors else 0,
    )


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def markdown_table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def write_report(path: Path | None, lines: list[str]) -> None:
    text = "\n".join(lines)
    print(text)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


class CommandCounter:
    """Commands that clients send to a Redis server, as MONITOR reports them (commands a
    Lua script runs, ``[0 lua]``, are left out), and the round trips they came in, as
    the server counts its reads (INFO's ``total_reads_processed``: commands pipelined
    together are one read).

    A raw socket rather than redis-py's monitor(): that one gives up after a read timeout,
    and a login leaves Redis idle for as long as the password hash takes.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.lines: list[str] = []

    round_trips = 0  # of the last count(): its commands in as many round trips

    def count(self, action) -> list[str]:
        """Run ``action``; return the names of the commands clients sent meanwhile, and
        keep in ``round_trips`` in how many round trips they came."""
        import threading

        import redis

        start, end = f"bench-start-{time.monotonic_ns()}", f"bench-end-{time.monotonic_ns()}"
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.sendall(b"MONITOR\r\n")
        seen: list[str] = []
        done = threading.Event()

        def read() -> None:
            buffer = b""
            while not done.is_set():
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buffer += chunk
                *complete, buffer = buffer.split(b"\r\n")
                for line in complete:
                    text = line.decode(errors="replace")
                    seen.append(text)
                    if end in text:
                        done.set()

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        client = redis.Redis(port=self.port)
        own = client.client_info()["addr"]  # its INFO calls are left out below
        while not any(start in line for line in seen):
            client.echo(start)
            time.sleep(0.02)
        first = max(i for i, line in enumerate(seen) if start in line)
        # Round trips: the reads the server made meanwhile (a pipeline of commands sent
        # together is one), less the second INFO's own.
        reads = int(client.info("stats")["total_reads_processed"])
        action()
        self.round_trips = int(client.info("stats")["total_reads_processed"]) - reads - 1
        client.echo(end)
        done.wait(5)
        sock.close()
        names = []
        for line in seen[first + 1 :]:
            if end in line:
                break
            match = re.match(r'\+[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"', line)
            if match and match.group(1) not in ("lua", own):
                names.append(match.group(2).upper())
        return names
