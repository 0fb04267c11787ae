"""Settings for bench/overhead.py: the project's, with the session layer chosen by
``BENCH_SESSIONS``:

- ``none``: no session layer (``bench.middleware.NoSessionLayer``): every request is the
  benchmark user's, read once per process, with a session stored nowhere (the baseline);
- ``stock``: Django's cache engine on django-redis with its defaults, and Django's own
  session and authentication middleware (what a stock project runs);
- ``ours``: the project as shipped.

Every other middleware, the views, the templates and the database are the same in all
three, and ``bench.middleware.QueryCount`` reports each request's database queries.
"""

import os

from sessionsite.settings import *  # noqa: F403
from sessionsite.settings import CACHES, MIDDLEWARE, REDIS_URL

_MODE = os.environ.get("BENCH_SESSIONS", "ours")
_DJANGO_SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"
_DJANGO_AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
_OURS = {
    "sessionadmin.middleware.SessionMiddleware": _DJANGO_SESSIONS,
    "sessionadmin.middleware.AuthenticationMiddleware": _DJANGO_AUTH,
}

# A password hash costs the same in every configuration, and argon2's ~100 ms would hide
# the session layer's share of a login: the benchmark's users have a fast one.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if _MODE != "ours":
    # Stock Django has no login limit: no backend counting attempts in Redis.
    AUTHENTICATION_BACKENDS = ["accounts.backends.UsernameOrEmailBackend"]
    # What the checks say of a set-up without our layer (or, for the baseline, any):
    # true, and the point of the comparison.
    SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E410", "sessionadmin.E004", "sessionadmin.W003"]
if _MODE == "none":
    MIDDLEWARE = [m for m in MIDDLEWARE if m != "sessionadmin.middleware.AuthenticationMiddleware"]
    MIDDLEWARE = ["bench.middleware.NoSessionLayer" if m in _OURS else m for m in MIDDLEWARE]
elif _MODE == "stock":
    MIDDLEWARE = [_OURS.get(m, m) for m in MIDDLEWARE]
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    SESSION_CACHE_ALIAS = "stock"
elif _MODE != "ours":
    raise ValueError(f"BENCH_SESSIONS must be none, stock or ours, not {_MODE!r}")
MIDDLEWARE = ["bench.middleware.QueryCount", *MIDDLEWARE]

# Django's stock engine on django-redis with its defaults (bench/memory.py uses it too).
CACHES = {**CACHES, "stock": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": REDIS_URL}}
