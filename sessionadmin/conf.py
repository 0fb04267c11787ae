"""The only reader of sessionadmin's settings: names, defaults and types in one place.

Imports nothing of the app, so every module may read it. Modules that cache something
derived from other settings (SECRET_KEY, the user model...) reset it from their own
``setting_changed`` receiver.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

_RATE = re.compile(r"^(\d+)/(\d*)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """Return (attempts, window in seconds) of a rate such as ``5/15m``; raise ValueError."""
    match = _RATE.match(str(rate).strip())
    if not match or int(match.group(1)) < 1 or match.group(2) == "0":
        raise ValueError(f"{rate!r} is not a rate like 5/15m")
    return int(match.group(1)), int(match.group(2) or 1) * _UNIT_SECONDS[match.group(3)]


@dataclass(frozen=True)
class SessionAdminSettings:
    idle_timeout: int  # seconds without a request before the session ends
    absolute_timeout: int  # seconds after login before the session ends
    touch_interval: int  # at most one activity write-back per this many seconds
    max_per_user: int  # concurrent sessions per user, 0 for no limit
    warning_before: int  # seconds before a deadline that pages warn the user
    cache_alias: str  # the django-redis alias holding sessions
    key_prefix: str  # Redis key prefix (a Cluster hash tag, see store/keys.py)
    shards: int  # index shards, each its own hash tag (store/keys.py), 1 to 256
    trust_x_forwarded_for: bool
    login_url: str  # a path or a URL name (resolve_url)
    exempt_paths: tuple[str, ...]  # path prefixes that never load the session (health checks)
    json_paths: tuple[str, ...]  # path prefixes answered in JSON rather than by redirects
    login_rate: str  # failed sign-ins allowed per client IP and per account, "5/15m"
    login_fields: tuple[str, ...]  # user fields a login name is looked up in (any case)
    user_cache_max_age: int  # seconds a cached copy of the user is used before a reload
    index_grace_setting: int | None  # SESSIONADMIN_INDEX_GRACE, None for the default
    device_cookie_name: str  # the trusted-device cookie (auth/trusted.py)
    device_cookie_age: int  # seconds a device stays trusted after its last sign-in
    device_login_rate: str  # failed sign-ins a trusted device may make per window
    new_sessions_per_minute: int  # guest sessions one client IP may create a minute; 0: any
    token_idle_timeout: int  # seconds a token may go unused before it ends
    token_absolute_timeout: int  # seconds after it was issued that a token ends
    token_max_per_user: int  # tokens a user may hold (apart from browsers); 0: any number
    tokens_survive_password_change: bool  # a password change keeps the user's tokens
    events_max: int  # entries the event log keeps (about); 0 keeps none
    on_suspicious: str  # "flag" a possibly hijacked session, "end" it, or "off"
    suspicious_ipv4_prefix: int  # a session leaving its IPv4 network of this size is flagged
    suspicious_ipv6_prefix: int  # the same for IPv6
    metrics_networks: tuple[str, ...]  # who may read /metrics without a staff session
    save_every_request: bool  # Django's SESSION_SAVE_EVERY_REQUEST
    cookie_name: str  # Django's SESSION_COOKIE_NAME

    @property
    def index_grace(self) -> int:
        """Seconds an ended session's index entry is kept, to tell a late request why."""
        if self.index_grace_setting is not None:
            return self.index_grace_setting
        return max(self.idle_timeout, 3600)

    @property
    def clock_slack(self) -> int:
        """Seconds an entry is kept past its idle timeout for clocks of app servers that
        differ a little: its score is their clock, its TTL the store's."""
        return min(60, self.idle_timeout)

    def timeouts(self, kind: str) -> tuple[int, int]:
        """(idle, absolute) timeouts in seconds of a session of ``kind`` (browser, token)."""
        if kind == "token":
            return self.token_idle_timeout, self.token_absolute_timeout
        return self.idle_timeout, self.absolute_timeout

    @property
    def login_limit(self) -> tuple[int, int]:
        """(attempts, window in seconds) of the failed-login limit."""
        return parse_rate(self.login_rate)


_NAMES = {
    "SESSION_IDLE_TIMEOUT",
    "SESSION_ABSOLUTE_TIMEOUT",
    "SESSION_TOUCH_INTERVAL",
    "SESSION_MAX_PER_USER",
    "SESSION_WARNING_BEFORE",
    "SESSION_CACHE_ALIAS",
    "SESSIONADMIN_KEY_PREFIX",
    "SESSIONADMIN_SHARDS",
    "TRUST_X_FORWARDED_FOR",
    "LOGIN_URL",
    "SESSIONADMIN_EXEMPT_PATHS",
    "SESSIONADMIN_JSON_PATHS",
    "LOGIN_RATE_LIMIT",
    "SESSIONADMIN_LOGIN_FIELDS",
    "SESSION_USER_CACHE_MAX_AGE",
    "SESSIONADMIN_INDEX_GRACE",
    "SESSIONADMIN_DEVICE_COOKIE_NAME",
    "SESSIONADMIN_DEVICE_COOKIE_AGE",
    "SESSIONADMIN_DEVICE_LOGIN_LIMIT",
    "SESSIONADMIN_NEW_SESSIONS_PER_MINUTE",
    "SESSIONADMIN_TOKEN_IDLE_TIMEOUT",
    "SESSIONADMIN_TOKEN_ABSOLUTE_TIMEOUT",
    "SESSIONADMIN_TOKEN_MAX_PER_USER",
    "SESSIONADMIN_TOKENS_SURVIVE_PASSWORD_CHANGE",
    "SESSIONADMIN_EVENTS_MAX",
    "SESSION_ON_SUSPICIOUS",
    "SESSIONADMIN_SUSPICIOUS_IPV4_PREFIX",
    "SESSIONADMIN_SUSPICIOUS_IPV6_PREFIX",
    "SESSIONADMIN_METRICS_NETWORKS",
    "SESSION_SAVE_EVERY_REQUEST",
    "SESSION_COOKIE_NAME",
}


def _optional_int(value: object) -> int | None:
    return None if value is None else int(str(value))


@cache
def get_settings() -> SessionAdminSettings:
    """Return sessionadmin's settings, read once and cached until a setting changes."""
    return SessionAdminSettings(
        idle_timeout=int(getattr(settings, "SESSION_IDLE_TIMEOUT", 1800)),
        absolute_timeout=int(getattr(settings, "SESSION_ABSOLUTE_TIMEOUT", 28800)),
        touch_interval=int(getattr(settings, "SESSION_TOUCH_INTERVAL", 60)),
        max_per_user=int(getattr(settings, "SESSION_MAX_PER_USER", 10)),
        warning_before=int(getattr(settings, "SESSION_WARNING_BEFORE", 60)),
        cache_alias=getattr(settings, "SESSION_CACHE_ALIAS", "sessions"),
        key_prefix=getattr(settings, "SESSIONADMIN_KEY_PREFIX", "sa"),
        shards=int(getattr(settings, "SESSIONADMIN_SHARDS", 16)),
        trust_x_forwarded_for=bool(getattr(settings, "TRUST_X_FORWARDED_FOR", False)),
        login_url=str(settings.LOGIN_URL),
        exempt_paths=tuple(getattr(settings, "SESSIONADMIN_EXEMPT_PATHS", ("/healthz",))),
        json_paths=tuple(getattr(settings, "SESSIONADMIN_JSON_PATHS", ("/api/",))),
        login_rate=str(getattr(settings, "LOGIN_RATE_LIMIT", "5/15m")),
        login_fields=tuple(getattr(settings, "SESSIONADMIN_LOGIN_FIELDS", ())),
        user_cache_max_age=int(getattr(settings, "SESSION_USER_CACHE_MAX_AGE", 60)),
        index_grace_setting=_optional_int(getattr(settings, "SESSIONADMIN_INDEX_GRACE", None)),
        device_cookie_name=getattr(settings, "SESSIONADMIN_DEVICE_COOKIE_NAME", "sa_device"),
        device_cookie_age=int(getattr(settings, "SESSIONADMIN_DEVICE_COOKIE_AGE", 180 * 86400)),
        device_login_rate=str(getattr(settings, "SESSIONADMIN_DEVICE_LOGIN_LIMIT", "5/15m")),
        new_sessions_per_minute=int(getattr(settings, "SESSIONADMIN_NEW_SESSIONS_PER_MINUTE", 60)),
        token_idle_timeout=int(getattr(settings, "SESSIONADMIN_TOKEN_IDLE_TIMEOUT", 30 * 86400)),
        token_absolute_timeout=int(
            getattr(settings, "SESSIONADMIN_TOKEN_ABSOLUTE_TIMEOUT", 90 * 86400)
        ),
        token_max_per_user=int(getattr(settings, "SESSIONADMIN_TOKEN_MAX_PER_USER", 10)),
        tokens_survive_password_change=bool(
            getattr(settings, "SESSIONADMIN_TOKENS_SURVIVE_PASSWORD_CHANGE", False)
        ),
        events_max=int(getattr(settings, "SESSIONADMIN_EVENTS_MAX", 100_000)),
        on_suspicious=str(getattr(settings, "SESSION_ON_SUSPICIOUS", "flag")),
        suspicious_ipv4_prefix=int(getattr(settings, "SESSIONADMIN_SUSPICIOUS_IPV4_PREFIX", 24)),
        suspicious_ipv6_prefix=int(getattr(settings, "SESSIONADMIN_SUSPICIOUS_IPV6_PREFIX", 48)),
        metrics_networks=tuple(
            getattr(settings, "SESSIONADMIN_METRICS_NETWORKS", ("127.0.0.0/8", "::1/128"))
        ),
        save_every_request=bool(settings.SESSION_SAVE_EVERY_REQUEST),
        cookie_name=str(settings.SESSION_COOKIE_NAME),
    )


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: object) -> None:
    # override_settings in tests must reach the cached values (as auth.hashers does).
    if setting in _NAMES:
        get_settings.cache_clear()
