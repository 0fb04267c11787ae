"""Test settings: the project's settings, on a Redis and a database of the tests' own.

With REDIS_URL unset the tests start their own embedded Redis under var/test-redis/
(never the development data in var/redis/); with REDIS_URL set they use that server, on
database 15 (flushed by the tests), so a development database 0 is left alone.
"""

import os
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
TEST_REDIS_DB = 15


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    if parts.scheme in ("redis+cluster", "rediss+cluster"):
        return url  # a cluster has database 0 only: the run flushes it (tests/conftest.py)
    if parts.scheme in ("redis+sentinel", "rediss+sentinel"):  # …/SERVICE[/DB][?…]
        base, mark, query = url.partition("?")
        scheme, _, hosts, service = base.split("/")[:4]
        return f"{scheme}//{hosts}/{service}/{db}{mark}{query}"
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = str(db)
        return f"unix://{parts.path}?{urlencode(query)}"
    return urlunsplit(parts._replace(path=f"/{db}"))


if not os.environ.get("REDIS_URL"):
    from sessionsite.embedded import EmbeddedRedis

    TEST_REDIS = EmbeddedRedis(BASE_DIR / "var" / "test-redis")
    # Stopped at the end of the run when this run started it (tests/conftest.py).
    STARTED_TEST_REDIS = TEST_REDIS.start()
    os.environ["REDIS_URL"] = TEST_REDIS.url
os.environ["REDIS_URL"] = _with_db(os.environ["REDIS_URL"], TEST_REDIS_DB)
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
# No collectstatic in tests: static files come from the apps' folders (also for the
# server processes the tests start, which inherit this environment).
os.environ.setdefault("STATIC_MANIFEST", "0")
# Every test client comes from one loopback address: the bound on guest sessions per
# address is off, except in the tests of that bound (which set it).
os.environ.setdefault("NEW_SESSIONS_PER_MINUTE", "0")
os.environ.setdefault("WHITENOISE_USE_FINDERS", "1")

from sessionsite.settings import *  # noqa: E402, F403
from sessionsite.settings import DATABASES  # noqa: E402

# A file, not :memory:, so that server processes started by tests see the same data.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # TEST_SQLITE_NAME: a nested run's own (tests/sessionadmin/test_cluster.py).
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("TEST_SQLITE_NAME") or str(BASE_DIR / "var" / "test-db.sqlite3")
    }

# Argon2 at full cost would dominate the suite's time; production keeps it first.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
