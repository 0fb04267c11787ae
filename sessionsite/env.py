"""Read and validate the environment variables of API.md's settings table.

Every reader stops start-up with a one-line message naming the variable when the value is
malformed, rather than a traceback from deep inside Django.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import environ

_env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(SystemExit):
    """Stop start-up with a one-line explanation (exit status 1, no traceback)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"configuration error: {message}")


def fail(message: str) -> NoReturn:
    raise ConfigError(message)


def read_dotenv() -> None:
    """Load the .env file SESSIONSITE_DOTENV names, if any; real variables still win."""
    path = os.environ.get("SESSIONSITE_DOTENV")
    if path and Path(path).is_file():
        environ.Env.read_env(path, overwrite=False)


def raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def boolean(name: str, default: bool) -> bool:
    value = raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    fail(f"{name}={value!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def integer(name: str, default: int, minimum: int = 0) -> int:
    value = raw(name)
    if value is None or value == "":
        return default
    if not re.fullmatch(r"[+-]?\d+", value):
        fail(f"{name}={value!r} is not a whole number")
    number = int(value)
    if number < minimum:
        fail(f"{name}={number} must be at least {minimum}")
    return number


def string_list(name: str, default: list[str]) -> list[str]:
    value = raw(name)
    if value is None:
        return default
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        fail(f"{name} is set but lists nothing")
    return items


def choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = raw(name) or default
    if value not in choices:
        fail(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


_RATE = re.compile(r"^(\d+)/(\d*)([smhd])$")


def rate(name: str, default: str) -> str:
    """Return a rate such as ``5/15m`` (N attempts per period), as sessionadmin reads it."""
    value = raw(name) or default
    match = _RATE.match(value)
    if not match or int(match.group(1)) < 1 or match.group(2) == "0":
        fail(f"{name}={value!r} is not a rate like 5/15m (count/period, period in s, m, h or d)")
    return value


_DATABASE_ENGINES = {
    "django.db.backends.postgresql",
    "django.db.backends.sqlite3",
    "django.db.backends.mysql",
}


def database(name: str, default_sqlite: Path) -> dict:
    value = raw(name)
    if not value:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(default_sqlite)}
    try:
        config = _env.db_url_config(value)
    except Exception as exc:  # django-environ raises several types for a bad URL
        fail(f"{name} is not a database URL ({exc})")
    if config.get("ENGINE") not in _DATABASE_ENGINES:
        fail(f"{name} names an unsupported database scheme (use postgres:// or sqlite:///)")
    return config


def redis_url(name: str) -> str | None:
    value = raw(name)
    if not value:
        return None
    if value.startswith(SENTINEL_SCHEMES):
        sentinel(name, value)  # checked now: a bad one stops start-up naming the variable
    elif value.startswith(CLUSTER_SCHEMES):
        from sessionadmin.store.cluster import parse_cluster_url

        try:
            parse_cluster_url(value)
        except ValueError as exc:
            fail(f"{name} is not a redis[s]+cluster://HOST:PORT[,HOST:PORT...] URL ({exc})")
    elif not re.match(r"^(rediss?|unix)://", value):
        fail(
            f"{name}={redacted_url(value)!r} is not a redis://, rediss://, unix://, "
            "redis[s]+sentinel:// or redis[s]+cluster:// URL"
        )
    else:
        import redis

        try:  # read as redis-py will (no connection made): its errors quote the URL
            redis.ConnectionPool.from_url(value)
        except Exception as exc:  # redis-py raises several types; its message may quote it
            fail(f"{name}={redacted_url(value)!r} is not a valid Redis URL ({type(exc).__name__})")
    return value


CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")


def redacted_url(url: str) -> str:
    """The URL as it may be printed (an error message ends up in logs): whatever comes
    before its last "@" (user and password, which may hold "?" or "#"), its query (it may
    hold ``password=``) and its fragment hidden, however malformed the URL is."""
    head, at, tail = url.rpartition("@")
    if at:
        scheme = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", head)
        url = (scheme.group() if scheme else "") + "***@" + tail
    base, query, _ = url.partition("?")
    return base.partition("#")[0] + ("?…" if query else "")


_SENTINEL = re.compile(
    r"^(?P<scheme>rediss?)\+sentinel://(?:(?P<auth>[^@/?#]*)@)?(?P<hosts>[^/@?]+)"
    r"/(?P<service>[^/?]+)(?:/(?P<db>\d+))?/?(?:\?(?P<query>.*))?$"
)
SENTINEL_SCHEMES = ("redis+sentinel://", "rediss+sentinel://")
# The sentinels' own credentials (their requirepass or ACL user), which may differ from
# the data nodes' (the URL's user:password@): a query, as the other options.
_SENTINEL_AUTH = {"sentinel_username": str, "sentinel_password": str}


class SentinelURL(NamedTuple):
    sentinels: list[tuple[str, int]]
    service: str
    db: int
    auth: str  # "user:password" of the data nodes, as in the URL; "" none
    sentinel_auth: dict[str, str]  # redis-py's username/password for the sentinels
    tls: dict[str, Any] | None  # redis-py's ssl_* options, for both; None: in clear


def sentinel(name: str, value: str) -> SentinelURL:
    """Read ``redis[s]+sentinel://[user:password@]HOST:PORT[,HOST:PORT…]/SERVICE[/DB]
    [?sentinel_username=…&sentinel_password=…&ssl_…=…]``; stop start-up if it is not one."""
    try:
        return _parse_sentinel(value)
    except ValueError as exc:
        fail(
            f"{name} is not a redis[s]+sentinel://HOST:PORT[,HOST:PORT...]/SERVICE[/DB] URL "
            f"({exc})"
        )


def _parse_sentinel(value: str) -> SentinelURL:
    from sessionadmin.store.cluster import TLS_OPTIONS, parse_nodes, parse_options, tls_options

    match = _SENTINEL.match(value)
    if match is None:
        raise ValueError(
            "each sentinel as HOST:PORT, then the service; a password's '/', '?', '#' "
            "and '@' percent-encoded"
        )
    if match.group("service") != match.group("service").lower():
        # django-redis reads the service as a host name, lower-cased: never found.
        raise ValueError("the service's name must be lower case")
    options = parse_options(match.group("query") or "", {**_SENTINEL_AUTH, **TLS_OPTIONS})
    tls = tls_options(options)
    if match.group("scheme") == "redis" and tls:
        raise ValueError("TLS options need rediss+sentinel://")
    return SentinelURL(
        parse_nodes(match.group("hosts")),
        match.group("service"),
        int(match.group("db") or 0),
        match.group("auth") or "",
        {
            key.removeprefix("sentinel_"): options[key]
            for key in _SENTINEL_AUTH
            if options.get(key)
        },
        tls if match.group("scheme") == "rediss" else None,
    )


def secret_key(debug: bool, var_dir: Path) -> str:
    """Return SECRET_KEY; in DEBUG a generated key kept in var/ so sessions survive restarts."""
    value = raw("SECRET_KEY")
    if value:
        if len(value) < 32 and not debug:
            fail("SECRET_KEY is too short: use at least 50 random characters")
        return value
    if not debug:
        fail(
            "SECRET_KEY is not set and DEBUG is off: set SECRET_KEY (a long random string), "
            "or DEBUG=1 for development"
        )
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        # O_EXCL: two processes starting at once (runserver's reloader) agree on one key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(key)
    return path.read_text().strip()


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)
