"""The only reader of sessionadmin's settings: names, defaults and types in one place."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


@dataclass(frozen=True)
class SessionAdminSettings:
    idle_timeout: int  # seconds without a request before the session ends
    absolute_timeout: int  # seconds after login before the session ends
    touch_interval: int  # at most one activity write-back per this many seconds
    max_per_user: int  # concurrent sessions per user, 0 for no limit
    warning_before: int  # seconds before a deadline that pages warn the user
    cache_alias: str  # the django-redis alias holding sessions
    key_prefix: str  # Redis key prefix (a Cluster hash tag, see keys.py)
    trust_x_forwarded_for: bool
    login_url: str
    exempt_paths: tuple[str, ...]  # path prefixes that never load the session (health checks)

    @property
    def index_grace(self) -> int:
        """Seconds an ended session's index entry is kept, to tell a late request why."""
        return max(self.idle_timeout, 3600)


_NAMES = {
    "SESSION_IDLE_TIMEOUT",
    "SESSION_ABSOLUTE_TIMEOUT",
    "SESSION_TOUCH_INTERVAL",
    "SESSION_MAX_PER_USER",
    "SESSION_WARNING_BEFORE",
    "SESSION_CACHE_ALIAS",
    "SESSIONADMIN_KEY_PREFIX",
    "TRUST_X_FORWARDED_FOR",
    "LOGIN_URL",
    "SESSIONADMIN_EXEMPT_PATHS",
}


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
        trust_x_forwarded_for=bool(getattr(settings, "TRUST_X_FORWARDED_FOR", False)),
        login_url=str(getattr(settings, "LOGIN_URL", "/accounts/login/")),
        exempt_paths=tuple(getattr(settings, "SESSIONADMIN_EXEMPT_PATHS", ("/healthz",))),
    )


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: object) -> None:
    # override_settings in tests must reach the cached values (as auth.hashers does).
    if setting in _NAMES or setting in {"SECRET_KEY", "SECRET_KEY_FALLBACKS"}:
        get_settings.cache_clear()
        from sessionadmin import keys

        keys.reset()
    if setting in {"SESSION_USER_CACHE_FIELDS", "AUTH_USER_MODEL"}:
        from sessionadmin import usercache

        usercache.reset()
    if setting == "AUTHENTICATION_BACKENDS":
        from sessionadmin.backends.redis import _backends_by_code

        _backends_by_code.cache_clear()
