"""What Django's error reports (the DEBUG page, mails to ADMINS) may show of the settings
and of a traceback's local variables."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.views.debug import SafeExceptionReporterFilter

from sessionadmin.conf import get_settings

# A URL's user and password ("scheme://user:pass@"; up to the last "@" before the host,
# since a password may hold one), and a query's password= value. Bounded repeats: a
# long local (a request body) is scanned in linear time, never with backtracking.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]{0,31}://)[^\s/?#]{0,1024}@")
_PASSWORD_PARAM = re.compile(r"(?P<name>[?&][A-Za-z_]{0,32}password=)[^&#\s]*", flags=re.I)
_DEPTH = 4  # containers inside containers looked into (a report never loops on a cycle)
_SEQUENCES = (list, tuple, set, frozenset)  # exactly these: subclasses are left whole
_SHORTEST_SECRET = 8  # shorter values are not looked for (a cookie "1" is everywhere)


def hide_credentials(text: str) -> str:
    """``text`` with the user and password of any URL in it hidden, and any password= of
    a query."""
    if "://" not in text and "password=" not in text.lower():
        return text
    return _PASSWORD_PARAM.sub(r"\g<name>***", _USERINFO.sub(r"\g<scheme>***@", text))


def request_secrets(request: Any) -> tuple[str, ...]:
    """The credentials the failed request carried: its session key, its bearer token and
    its trusted-device cookie, and the key its session has now (a sign-in's new one). A
    frame may hold them under any name (the pre-login key a sign-in carries over is
    ``carry_from``, then ``old``), so they are hidden by value."""
    cookies = getattr(request, "COOKIES", None) or {}
    meta = getattr(request, "META", None) or {}
    found = [value for name, value in cookies.items() if _secret_cookie(name)]
    found.append(getattr(getattr(request, "session", None), "_session_key", None) or "")
    scheme, _, token = str(meta.get("HTTP_AUTHORIZATION", "")).partition(" ")
    if scheme.lower() == "bearer":
        found.append(token.strip())
    return tuple(v for v in found if type(v) is str and len(v) >= _SHORTEST_SECRET)


def _secret_cookie(name: str) -> bool:
    return name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME) or name.endswith(
        get_settings().device_cookie_name
    )


class SettingsFilter(SafeExceptionReporterFilter):
    """Django's filter, hiding URLs that carry credentials too.

    Django hides a setting by its name (API, KEY, PASS, SECRET...), which misses
    ``REDIS_URL`` and the caches' ``LOCATION``. Both are ``redis://user:password@…``.

    A traceback's local variables Django hides only where a function says so
    (``sensitive_variables``): a URL from the settings, as redis-py or django-redis holds
    it in a frame, and a raw session key (``session_key``) were shown whole in a report
    mailed to ADMINS. Here, as Django does for settings, a local is hidden by its name
    (and so is a value under such a key of a dict it holds), and the credentials of any
    URL it holds are hidden, whatever its name. Only where Django's own filter is on
    (DEBUG off): the DEBUG page shows a developer everything, as Django's does.
    """

    hidden_settings = re.compile(
        SafeExceptionReporterFilter.hidden_settings.pattern + "|_URL$|^LOCATION$", flags=re.I
    )

    def get_safe_cookies(self, request: Any) -> dict:
        # Django hides the session cookie (by SESSION_COOKIE_NAME) and names that look
        # secret; the trusted-device cookie ("sa_device") names an account and a nonce.
        return {
            name: self.cleansed_substitute if _secret_cookie(name) else value
            for name, value in super().get_safe_cookies(request).items()
        }

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        found = super().get_traceback_frame_variables(request, tb_frame)
        if not self.is_active(request):
            return found
        secrets = request_secrets(request)
        return [(name, self._safe_local(name, value, secrets)) for name, value in found]

    def _safe_local(self, name: str, value: Any, secrets: tuple[str, ...]) -> Any:
        # A report must never fail for what a frame held (a lazy object that cannot
        # evaluate, an odd container): whatever cannot be looked into is starred.
        try:
            return self._cleanse_local(name, value, _DEPTH, secrets)
        except Exception:
            return self.cleansed_substitute

    def _cleanse_local(self, name: Any, value: Any, depth: int, secrets: tuple[str, ...]) -> Any:
        # type(), never isinstance(): isinstance() evaluates a lazy object (request.user),
        # which Django's report shows unevaluated.
        if type(name) is str and (
            name == settings.SESSION_COOKIE_NAME or self.hidden_settings.search(name)
        ):
            return self.cleansed_substitute
        kind = type(value)
        if kind is str:
            return self._cleanse_text(value, secrets)
        if kind is bytes:
            return self._cleanse_text(value.decode("latin-1"), secrets).encode("latin-1")
        if kind is not dict and kind not in _SEQUENCES:
            return value
        if depth <= 0:
            return self.cleansed_substitute  # deeper than looked into (or a cycle)
        if kind is dict:
            return {
                self._cleanse_text(key, secrets) if type(key) is str else key: (
                    self._cleanse_local(key, item, depth - 1, secrets)
                )
                for key, item in value.items()
            }
        return kind(self._cleanse_local("", item, depth - 1, secrets) for item in value)

    def _cleanse_text(self, text: str, secrets: tuple[str, ...]) -> str:
        for secret in secrets:
            text = text.replace(secret, self.cleansed_substitute)
        return hide_credentials(text)
