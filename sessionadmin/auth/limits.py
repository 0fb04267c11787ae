"""Failed sign-in limits, per client IP and per account, on every path that checks a password.

Each attempt is counted *before* the password is hashed, atomically with the check of the
limit (store/lua/login_attempt.lua), so concurrent guesses cannot all pass a check made
before any of them is recorded; a successful sign-in takes its attempt back. Buckets:

- the client IP (``request.client_ip``), IPv6 by its /64; no IP, no IP bucket;
- the account: the primary key of the user the name resolves to, so the username, the
  email and any case of either share one bucket; a name that resolves to nobody is
  counted under its normalised text.

Counters live in the sessions Redis, so the limit holds across workers and servers, and
an outage fails closed (503), never open.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from sessionadmin.auth import trusted
from sessionadmin.auth.users import login_fields, normalise_login_name, user_key
from sessionadmin.conf import get_settings, parse_rate
from sessionadmin.request import client_ip, ip_network
from sessionadmin.store import keys
from sessionadmin.store.client import ScriptCall, redis_client, redis_errors, run_script

_ATTEMPT = "_sessionadmin_login_attempt"  # the buckets this request counted, for a refund
_CHECKED = "_sessionadmin_password_checked"  # whose old password count_password_check counted
_REFUSED = "_sessionadmin_login_refused"
RESPONSE_STATE = (_ATTEMPT, _REFUSED, _CHECKED)  # what SessionMiddleware's response settles
_ACCOUNT = "_sessionadmin_login_account"  # the account bucket a sign-in named
_LOOKUPS = "_sessionadmin_login_lookups"  # {(field, name): users} read for the bucket


class LoginLimited(PermissionDenied):
    """Too many failed sign-ins; raised before the password is checked.

    A PermissionDenied, so ``django.contrib.auth.authenticate()`` stops at once and
    reports a failure, whichever view called it.
    """

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed sign-in attempts; retry in {retry_after} s.")
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        minutes = max(1, round(self.retry_after / 60))
        unit = "minute" if minutes == 1 else "minutes"
        return f"Too many failed sign-in attempts. Try again in {minutes} {unit}."


@dataclass(frozen=True)
class Attempt:
    buckets: tuple[str, ...]  # Redis keys the attempt was counted in
    sign_in: bool = False  # through authenticate(), which reports a failure (settle)
    right: bool = False  # the password was checked and right (LimitedModelBackend)


def _underlying(request: Any) -> Any:
    """The HttpRequest itself: Django REST framework's Request, which its authentication
    classes give authenticate(), wraps it as ``_request``. The attempt is kept on the
    request the middleware sees."""
    inner = getattr(request, "_request", None)
    return inner if isinstance(inner, HttpRequest) else request


def account_bucket(name: str, request: HttpRequest | None = None) -> str:
    """Return the account bucket of a login name: its user's key, else the name itself.

    The rows read are kept on ``request`` for the rest of the sign-in (``looked_up``).
    """
    name = name.strip()
    users = get_user_model()._default_manager
    lookups: dict[tuple[str, str], list[Any]] = {}
    if request is not None:
        setattr(request, _LOOKUPS, lookups)  # this sign-in's, none of an earlier one
    fields = () if "\x00" in name else get_settings().login_fields or login_fields()
    for field in fields:  # (PostgreSQL refuses NUL in text: such a name matches nobody)
        matches = list(users.filter(**{f"{field}__iexact": name}).order_by("pk")[:2])
        lookups[(field, name)] = matches
        if len(matches) == 1:
            return f"acct:{user_key(matches[0].pk)}"
    digest = hashlib.sha256(normalise_login_name(name).encode()).hexdigest()[:32]
    return f"name:{digest}"


def looked_up(request: HttpRequest | None, field: str, name: str) -> list[Any] | None:
    """The users whose ``field`` matches ``name`` in any case, first two by primary key,
    as the login limit read them during this request's sign-in; None if it did not.

    An authentication backend that looks the user up the same way may take them from
    here rather than query again (accounts.backends does).
    """
    return getattr(request, _LOOKUPS, {}).get((field, name))


def user_bucket(user: Any) -> str:
    """Return the account bucket of a known user."""
    return f"acct:{user_key(user.pk)}"


def _ip_bucket(request: HttpRequest | None) -> list[str]:
    network = ip_network(client_ip(request)) if request is not None else ""
    return [f"ip:{network}"] if network else []


def _hit(buckets: list[str], rate: str | None = None) -> int:
    """Count an attempt; return 0 if counted, else the seconds until a retry."""
    attempts, window = parse_rate(rate) if rate else get_settings().login_limit
    names = [keys.login_attempts(b) for b in buckets]
    allowed, wait_ms = run_script("LOGIN_ATTEMPT", names, ["hit", attempts, window * 1000])
    return 0 if int(allowed) else max(1, -(-int(wait_ms) // 1000))


def _refund_call(buckets: list[str], trust: trusted.Device | None = None) -> ScriptCall:
    """The script call taking an attempt back from ``buckets``; with ``trust``, storing
    that device (the browser a sign-in trusts from now on) in the same step
    (login_attempt.lua)."""
    names = [keys.login_attempts(b) for b in buckets]
    args: list[object] = ["refund", 0, 0]  # (a refund needs no limit)
    if trust is not None:
        names.append(trust.record)
        args += [trust.account, get_settings().device_cookie_age]
    return "LOGIN_ATTEMPT", names, args


def _refund(buckets: list[str], trust: trusted.Device | None = None) -> None:
    run_script(*_refund_call(buckets, trust))


def _device_rate() -> str:
    return get_settings().device_login_rate


def _token_device(request: HttpRequest | None, account: str | None) -> str | None:
    """A live token of the account, sent as the request's bearer, is a device: return the
    bucket of the budget the account's tokens share (they then lose nothing to an attack
    on the account). One budget for all of them, not one each: whoever holds several
    tokens gets no more guesses than with one."""
    session = getattr(request, "session", None)
    meta = getattr(session, "meta", None)
    if account is None or not getattr(request, "bearer", False) or meta is None:
        return None
    if f"acct:{meta.user_id}" != account:
        return None
    return "devb:tokens:" + account


def count_attempt(
    request: HttpRequest | None, buckets: list[str], *, account: str | None = None
) -> None:
    """Count one attempt in ``buckets`` (and the request's IP); raise LoginLimited if over.

    With ``account`` (a sign-in by name), a browser trusted for that account counts the
    attempt against its own budget instead (``trusted``). The attempt is remembered on
    the request, so that a sign-in that succeeds takes it back (``refund``).
    """
    request = _underlying(request)
    sign_in = account is not None
    if account is not None and request is not None:
        setattr(request, _ACCOUNT, account)
    device = trusted.presented(request)
    if account is not None and device is not None and device.account == account:
        counted = trusted.count_on_device(device, account)
        if counted is not None:
            setattr(request, _ATTEMPT, Attempt((counted,), sign_in))
            return
    token_device = _token_device(request, account)
    if token_device is not None and not _hit([token_device], _device_rate()):
        setattr(request, _ATTEMPT, Attempt((token_device,), sign_in))
        return
    buckets = [*_ip_bucket(request), *buckets]
    wait = _hit(buckets)
    if wait:
        refused = LoginLimited(wait)
        if request is not None:
            setattr(request, _REFUSED, refused)
        raise refused
    if request is not None:
        setattr(request, _ATTEMPT, Attempt(tuple(buckets), sign_in))


def refund(request: HttpRequest | None, trust: trusted.Device | None = None) -> None:
    """Take back the attempt this request counted: it succeeded. With ``trust``, the
    device a sign-in trusts from now on is stored in the same step (trusted.py)."""
    call = refund_call(request, trust)
    if call is not None:
        run_script(*call)


def refund_call(
    request: HttpRequest | None, trust: trusted.Device | None = None
) -> ScriptCall | None:
    """``refund``, as a script call for the caller to send (None: nothing to send): a
    sign-in sends it in the round trip that writes its session. The attempt counts as
    taken back from here on."""
    request = _underlying(request)
    attempt = getattr(request, _ATTEMPT, None)
    buckets = list(attempt.buckets) if attempt is not None else []
    if attempt is not None:
        delattr(request, _ATTEMPT)
    return _refund_call(buckets, trust) if buckets or trust is not None else None


def refusal(request: HttpRequest) -> LoginLimited | None:
    """Return the refusal of this request's sign-in attempt, if the limit refused one."""
    return getattr(_underlying(request), _REFUSED, None)


def failed(request: HttpRequest | None) -> None:
    """The request's sign-in attempt failed (user_login_failed): it stays counted."""
    request = _underlying(request)
    if request is not None and hasattr(request, _ATTEMPT):
        delattr(request, _ATTEMPT)


def right(request: HttpRequest | None) -> None:
    """The request's sign-in attempt checked a right password (settle takes it back)."""
    request = _underlying(request)
    attempt = getattr(request, _ATTEMPT, None)
    if attempt is not None:
        setattr(request, _ATTEMPT, replace(attempt, right=True))


def settle(request: HttpRequest, status: int) -> None:
    """At the end of a request: take back a sign-in attempt with a right password that
    was not followed by login(): a view checked it with authenticate() only (HTTP Basic,
    "confirm your password", an API's own token), and five such right answers must not
    lock the account. Known right when LimitedModelBackend checked it; behind
    LoginLimitBackend, right unless user_login_failed said otherwise, and only if the
    request ended well: a later backend that raised (a 500, an exception through the
    view) sends no user_login_failed, and a wrong guess is never taken back for that."""
    attempt = getattr(request, _ATTEMPT, None)
    if attempt is not None and attempt.sign_in and (attempt.right or status < 500):
        refund(request)


def attempted_user(request: HttpRequest | None) -> str:
    """Return the stored id of the user this request's sign-in named, "" if nobody."""
    account = getattr(_underlying(request), _ACCOUNT, "")
    return account[len("acct:") :] if account.startswith("acct:") else ""


def first_refusal_this_minute(request: HttpRequest | None) -> bool:
    """Whether this is the first refused sign-in of the client's network this minute (of
    the account named, when the request has no usable address)."""
    network = ip_network(client_ip(request)) if request is not None else ""
    network = network or getattr(request, _ACCOUNT, "")
    with redis_errors():
        return bool(
            redis_client().set(keys.login_attempts(f"refused:{network}"), 1, nx=True, ex=60)
        )


def count_password_check(request: HttpRequest, user: Any) -> None:
    """Count an old-password check about to run for a signed-in user, per client IP and
    per account, as a sign-in; raise LoginLimited over the limit.
    ``settle_password_check`` takes it back if it succeeded."""
    count_attempt(request, [user_bucket(user)])
    request.__dict__[_CHECKED] = user_key(user.pk)


def settle_password_check(request: HttpRequest, changed: frozenset[str]) -> None:
    """The response of a request whose old-password check ``count_password_check``
    counted: if that user's password changed (``changed``: the keys of the users whose
    password the request saved), the old one was right, and counts for nothing, even if
    the view signed the user out since."""
    if request.__dict__.pop(_CHECKED, None) in changed:
        refund(request)


def is_unlimited_password_change(request: HttpRequest) -> bool:
    """Whether this is a POST to a password change whose form checks the old password with
    ``check_password()``, through no backend and with no hook of ours: the admin site's
    own page, or a view of Django's ``PasswordChangeView`` (``django.contrib.auth.urls``)
    whose form is not a ``LimitedPasswordChangeForm``. The middleware counts it instead.
    """
    # request.user last: on any other request it would load the user for nothing.
    match = getattr(request, "resolver_match", None)
    if request.method != "POST" or match is None:
        return False  # (every GET: before the import below, which costs each call)
    from django.contrib.auth.views import PasswordChangeView  # (needs the apps loaded)

    if match.app_name == "admin" and match.url_name == "password_change":
        return request.user.is_authenticated
    view = getattr(match.func, "view_class", None)
    if not (isinstance(view, type) and issubclass(view, PasswordChangeView)):
        return False
    form = getattr(match.func, "view_initkwargs", {}).get("form_class", view.form_class)
    if "old_password" not in getattr(form, "base_fields", {}):
        return False  # a SetPasswordForm (an admin setting another's password): no check
    # LimitedPasswordChangeForm counts its own check.
    return not getattr(form, "counts_old_password", False) and request.user.is_authenticated


def check_password(user: Any, password: str, request: HttpRequest | None = None) -> bool:
    """Check a signed-in user's password (the old one of a password change), limited.

    Counts against the user's account bucket and, given the ``request``, its client IP's,
    like any sign-in; raises LoginLimited when it has no attempts left, without checking
    the password.
    """
    buckets = [*_ip_bucket(request), user_bucket(user)]
    count_attempt(None, buckets)
    if user.check_password(password):
        _refund(buckets)
        return True
    return False
