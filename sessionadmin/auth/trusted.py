"""Trusted devices: login limits an attacker cannot turn against the account's owner.

OWASP's "Slow Down Online Guessing Attacks with Device Cookies": after a successful
sign-in the browser gets a long-lived signed cookie naming the account and a random
nonce; the store keeps only a hash of the nonce. A later attempt for that same account
that presents the cookie is judged against that device's own small budget
(``SESSIONADMIN_DEVICE_LOGIN_LIMIT``), not against the account's count, so the owner can
still sign in from a browser they used before while the account is under attack from
elsewhere. A device that uses up its own budget loses its trust; a cookie for another
account, forged, or unknown to the store, is ignored. Clients without the cookie (an API
script) face the account's limit as before.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

from sessionadmin.conf import get_settings, parse_rate
from sessionadmin.store import keys
from sessionadmin.store.client import run_script

_SALT = "sessionadmin.auth.trusted"
_ISSUED = "_sessionadmin_device_issued"  # a cookie value to send with this response
RESPONSE_STATE = (_ISSUED,)  # what SessionMiddleware's response step sends (set_cookie)


@dataclass(frozen=True)
class Device:
    account: str  # the account bucket it was issued for ("acct:<user id>")
    nonce: str

    @property
    def record(self) -> str:
        return keys.login_attempts("dev:" + _digest(self.nonce))

    @property
    def budget_bucket(self) -> str:
        """The device's own attempt bucket (a name, as limits.py's buckets are)."""
        return "devb:" + _digest(self.nonce)


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()[:32]


def presented(request: HttpRequest | None) -> Device | None:
    """Return the device the request's cookie names, if its signature is ours."""
    if request is None:
        return None
    raw = request.COOKIES.get(get_settings().device_cookie_name, "")
    try:
        value = signing.Signer(salt=_SALT).unsign(raw)
    except signing.BadSignature:
        return None
    account, _, nonce = value.rpartition(":")
    return Device(account, nonce) if account and len(nonce) >= 32 else None


def count_on_device(device: Device, account: str) -> str | None:
    """Count an attempt for ``account`` against the device's own budget.

    Return the bucket it was counted in (to take it back on success), or None when the
    device is not trusted for this account, or has just lost its trust.
    """
    attempts, window = parse_rate(get_settings().device_login_rate)
    budget = keys.login_attempts(device.budget_bucket)
    counted = run_script(
        "DEVICE_ATTEMPT", [device.record, budget], [account, attempts, window * 1000]
    )
    return device.budget_bucket if int(counted) == 1 else None


def to_remember(request: HttpRequest, account: str) -> Device:
    """The device a sign-in to ``account`` trusts from now on: the browser's own if it
    presented one for that account, else a new one. Stored by ``limits.refund`` (in the
    same step as the refund), then sent by ``issue``."""
    device = presented(request)
    if device is None or device.account != account:
        device = Device(account, secrets.token_urlsafe(32))
    return device


def issue(request: HttpRequest, device: Device) -> None:
    """Have the response set the cookie of a device just stored (``set_cookie``)."""
    value = signing.Signer(salt=_SALT).sign(f"{device.account}:{device.nonce}")
    setattr(request, _ISSUED, value)


def set_cookie(request: HttpRequest, response: HttpResponse) -> None:
    """Send the device cookie ``issue()`` gave this request, if any."""
    value = getattr(request, _ISSUED, None)
    if value is None:
        return
    response.set_cookie(
        get_settings().device_cookie_name,
        value,
        max_age=get_settings().device_cookie_age,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
