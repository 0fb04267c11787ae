"""Django settings, read once from the environment (the table in API.md and the README)."""

from __future__ import annotations

import warnings
from pathlib import Path

from sessionsite import env
from sessionsite.redis_config import redis_caches

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
env.read_dotenv()  # manage.py names the checkout's .env; production reads none unasked

DEBUG = env.boolean("DEBUG", False)
SECRET_KEY = env.secret_key(DEBUG, VAR_DIR)
ALLOWED_HOSTS = env.string_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"])
# HTTPS decides the Secure flag and the __Host- cookie names. It follows DEBUG unless set,
# so that a production-like process can be tested over plain HTTP on loopback.
HTTPS = env.boolean("HTTPS", not DEBUG)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",  # for `clearsessions`; the store itself is sessionadmin's
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "sessionadmin",
    "sessionsite",  # its embedded_redis command
    "accounts",
    "cart",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files under gunicorn, before anything that would load a session for them.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "sessionadmin.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, with request.user from a copy kept beside the session (no query per request).
    "sessionadmin.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "sessionsite.urls"
WSGI_APPLICATION = "sessionsite.wsgi.application"
ASGI_APPLICATION = "sessionsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sessionadmin.context_processors.session_deadlines",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {"default": env.database("DATABASE_URL", VAR_DIR / "db.sqlite3")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions and a busy timeout make concurrent writers queue instead of
    # failing with "database is locked"; WAL lets readers run beside a writer.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: the session store and the general cache ---------------------------------------
REDIS_URL = env.redis_url("REDIS_URL")
# With REDIS_URL unset the project runs its own server on a unix socket under var/redis/
# (sessionsite.embedded); it is started on first use and by `make run`.
EMBEDDED_REDIS_DIR = None if REDIS_URL else VAR_DIR / "redis"
if EMBEDDED_REDIS_DIR is not None:
    from sessionsite.embedded import socket_path_for

    REDIS_URL = f"unix://{socket_path_for(EMBEDDED_REDIS_DIR)}?db=0"

# One server, Sentinel or Redis Cluster, by the URL's scheme (sessionsite/redis_config.py).
CACHES = redis_caches(REDIS_URL)

# --- Sessions ---------------------------------------------------------------------------
SESSION_ENGINE = "sessionadmin.backends.redis"
SESSION_CACHE_ALIAS = "sessions"
SESSION_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"
SESSION_IDLE_TIMEOUT = env.integer("SESSION_IDLE_TIMEOUT", 1800, minimum=1)
SESSION_ABSOLUTE_TIMEOUT = env.integer("SESSION_ABSOLUTE_TIMEOUT", 28800, minimum=1)
SESSION_TOUCH_INTERVAL = env.integer("SESSION_TOUCH_INTERVAL", 60, minimum=0)
SESSION_MAX_PER_USER = env.integer("SESSION_MAX_PER_USER", 10, minimum=0)
SESSION_WARNING_BEFORE = env.integer("SESSION_WARNING_BEFORE", 60, minimum=0)
# The server enforces both timeouts; the cookie outlives the absolute one by the index's
# grace period, so the request after it still carries the cookie and is told why
# (401 SESSION_TIMEOUT, reason "absolute"), not merely asked to sign in.
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT + max(SESSION_IDLE_TIMEOUT, 3600)
# A browser-session cookie by default (no Max-Age: gone when the browser closes), as the
# OWASP Session Management Cheat Sheet advises; SESSION_PERSISTENT_COOKIE=1 keeps it for
# SESSION_COOKIE_AGE. The server enforces both timeouts either way.
SESSION_EXPIRE_AT_BROWSER_CLOSE = not env.boolean("SESSION_PERSISTENT_COOKIE", False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = HTTPS
SESSION_COOKIE_NAME = "__Host-sessionid" if HTTPS else "sessionid"

CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = HTTPS
CSRF_COOKIE_NAME = "__Host-csrftoken" if HTTPS else "csrftoken"
CSRF_FAILURE_VIEW = "sessionsite.views.csrf_failure"

# The client IP is REMOTE_ADDR unless a proxy in front of the app is trusted to set
# X-Forwarded-For (then its right-most entry, the address the proxy saw, is used).
TRUST_X_FORWARDED_FOR = env.boolean("TRUST_X_FORWARDED_FOR", False)

AUTHENTICATION_BACKENDS = [
    # First: counts every password attempt, whatever view makes it, before it is checked.
    "sessionadmin.auth.backends.LoginLimitBackend",
    "accounts.backends.UsernameOrEmailBackend",
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGIN_RATE_LIMIT = env.rate("LOGIN_RATE_LIMIT", "5/15m")
# The user fields cached beside each session (sessionadmin.auth.usercache): those every page
# shows, so a signed-in page, the profile included, makes no database query.
SESSION_USER_CACHE_FIELDS = (
    "username", "email", "date_joined", "is_active", "is_staff", "is_superuser",
)  # fmt: skip
# The trusted-device cookie of the login limit (sessionadmin.auth.trusted).
SESSIONADMIN_DEVICE_COOKIE_NAME = "__Host-sa_device" if HTTPS else "sa_device"
SESSIONADMIN_DEVICE_LOGIN_LIMIT = env.rate("DEVICE_LOGIN_LIMIT", "5/15m")
SESSIONADMIN_NEW_SESSIONS_PER_MINUTE = env.integer("NEW_SESSIONS_PER_MINUTE", 60, minimum=0)
# Token sessions for scripts and apps (POST /api/tokens; sessionadmin.tokens).
SESSIONADMIN_TOKEN_IDLE_TIMEOUT = env.integer("TOKEN_IDLE_TIMEOUT", 30 * 86400, minimum=1)
SESSIONADMIN_TOKEN_ABSOLUTE_TIMEOUT = env.integer("TOKEN_ABSOLUTE_TIMEOUT", 90 * 86400, minimum=1)
SESSIONADMIN_TOKEN_MAX_PER_USER = env.integer("TOKEN_MAX_PER_USER", 10, minimum=0)
SESSIONADMIN_TOKENS_SURVIVE_PASSWORD_CHANGE = env.boolean("TOKENS_SURVIVE_PASSWORD_CHANGE", False)
# Session events (sessionadmin.events), hijack flags (sessionadmin.hijack), /metrics.
SESSIONADMIN_EVENTS_MAX = env.integer("SESSION_EVENTS_MAX", 100_000, minimum=0)
SESSION_ON_SUSPICIOUS = env.choice("SESSION_ON_SUSPICIOUS", "flag", ("flag", "end", "off"))
SESSIONADMIN_METRICS_NETWORKS = env.string_list("METRICS_NETWORKS", ["127.0.0.0/8", "::1/128"])
# Where sessionadmin answers in JSON (timeouts, outages, refused sign-ins) instead of pages.
SESSIONADMIN_JSON_PATHS = ("/api/", "/healthz")

# --- Passwords --------------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Security headers -------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_SSL_REDIRECT = env.boolean("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env.boolean("SECURE_HSTS_PRELOAD", False)
# No inline script, ever: pages load only this site's own static files.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
if env.boolean("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# API bodies are small JSON objects; larger ones get 413 PAYLOAD_TOO_LARGE.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

# --- I18N, static -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Production: `python manage.py collectstatic` fills STATIC_ROOT, which WhiteNoise serves
# compressed, with far-future caching for the hashed names. Tests and the dev server serve
# straight from the apps' static folders.
WHITENOISE_USE_FINDERS = env.boolean("WHITENOISE_USE_FINDERS", DEBUG)
if WHITENOISE_USE_FINDERS:
    # Serving from the finders, an empty STATIC_ROOT (no collectstatic yet) is expected.
    # (WhiteNoise warns with stacklevel=3, so the message is what can be matched.)
    warnings.filterwarnings("ignore", message=f"No directory at: {STATIC_ROOT}")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.boolean("STATIC_MANIFEST", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Logging: never the session key; store outages are logged once by sessionadmin -------
# Error reports (the DEBUG page) never show REDIS_URL's password (sessionsite/reporting.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "sessionsite.reporting.SettingsFilter"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "drop_store_outages": {"()": "sessionadmin.logging.DropStoreUnavailable"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["drop_store_outages"],
        },
    },
    "root": {"handlers": ["console"], "level": "INFO" if DEBUG else "WARNING"},
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
STATICFILES_DIRS = [BASE_DIR / "static"]
