"""Settings for bench/overhead.py: the project's, with the session layer chosen by
``BENCH_SESSIONS``:

- ``none``: no session or authentication middleware at all (the baseline);
- ``stock``: Django's cache engine on django-redis with its defaults, and Django's own
  session and authentication middleware (what a stock project runs);
- ``ours``: the project as shipped.

Every other middleware, the database and the view are the same in all three.
"""

import os

from sessionsite.settings import *  # noqa: F403
from sessionsite.settings import CACHES, MIDDLEWARE, REDIS_URL

ROOT_URLCONF = "bench.urls"
_MODE = os.environ.get("BENCH_SESSIONS", "ours")
_DJANGO_SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"
_DJANGO_AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
_SESSION_LAYER = {
    "sessionadmin.middleware.SessionMiddleware": _DJANGO_SESSIONS,
    "sessionadmin.middleware.AuthenticationMiddleware": _DJANGO_AUTH,
    _DJANGO_AUTH: _DJANGO_AUTH,
}

if _MODE != "ours":
    # Stock Django has no login limit: no backend counting attempts in Redis.
    AUTHENTICATION_BACKENDS = ["accounts.backends.UsernameOrEmailBackend"]
if _MODE == "none":
    MIDDLEWARE = [m for m in MIDDLEWARE if m not in _SESSION_LAYER and "messages" not in m]
elif _MODE == "stock":
    MIDDLEWARE = [_SESSION_LAYER.get(m, m) for m in MIDDLEWARE]
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    SESSION_CACHE_ALIAS = "stock"
elif _MODE != "ours":
    raise ValueError(f"BENCH_SESSIONS must be none, stock or ours, not {_MODE!r}")

# bench/memory.py writes stock sessions through this alias in any mode.
CACHES = {**CACHES, "stock": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": REDIS_URL}}
