"""The load benchmark's virtual browsers (bench/load.py): an HTTP client with a cookie jar
and keep-alive connection, and a visitor that browses, fills a cart, signs in and out, and
checks that its own session, view counter and cart are exactly what its requests made.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

CLIENT_TIMEOUT = 5.0  # seconds; an answer slower than this is a hang
IDLE_RECONNECT = 1.0  # gunicorn closes keep-alive connections idle for 2 s
STORE_DOWN = "SESSION_STORE_UNAVAILABLE"
PASSWORD = "load-" + secrets.token_urlsafe(12)
MAX_LINE = 90  # the cart allows 99 of one product: clear the cart before reaching it


@dataclass(slots=True)
class Sample:
    kind: str
    start: float
    end: float
    status: int | None  # None: no answer (timeout or connection error)
    code: str | None  # the error body's "code"
    error: str | None  # "timeout" or the connection error's name

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def store_down(self) -> bool:
        return self.status == 503 and self.code == STORE_DOWN

    def label(self) -> str:
        if self.status is None:
            return "timeout" if self.error == "timeout" else f"connection error ({self.error})"
        return f"{self.status} {self.code}" if self.code else str(self.status)


class Client:
    """One browser: a keep-alive connection, a cookie jar, CSRF from the cookie."""

    def __init__(self, base: str, samples: list[Sample] | None) -> None:
        parts = urlsplit(base)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=CLIENT_TIMEOUT)
        self.cookies: dict[str, str] = {}
        self.samples = samples
        self.last_used = 0.0

    def call(self, method: str, path: str, body: Any = None) -> tuple[int | None, Any]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if method != "GET" and "csrftoken" in self.cookies:
            headers["X-CSRFToken"] = self.cookies["csrftoken"]
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if time.monotonic() - self.last_used > IDLE_RECONNECT:
            self.conn.close()  # never reuse a connection the server may be closing
        status = payload = code = error = None
        start = time.monotonic()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
            status = response.status
            self._store_cookies(response)
        except TimeoutError:
            error = "timeout"
            self.conn.close()
        except (OSError, http.client.HTTPException) as exc:
            error = type(exc).__name__
            self.conn.close()
        end = self.last_used = time.monotonic()
        if status is not None and raw:
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw.decode(errors="replace")[:200]
        if status is not None and status >= 400 and isinstance(payload, dict):
            code = str(payload.get("code")) if isinstance(payload.get("error"), str) else None
        if self.samples is not None:
            self.samples.append(Sample(f"{method} {path}", start, end, status, code, error))
        return status, payload

    def _store_cookies(self, response: http.client.HTTPResponse) -> None:
        if '"cookies"' in (response.getheader("Clear-Site-Data") or ""):
            self.cookies.clear()
        for header in response.msg.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            with contextlib.suppress(CookieError):
                jar.load(header)
            for name, morsel in jar.items():
                if morsel.value == "" or morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value


def cart_of(payload: Any) -> dict[int, int]:
    return {int(line["product_id"]): int(line["quantity"]) for line in payload["items"]}


@dataclass
class Visitor:
    """A virtual client and what it knows of its own session.

    Roles: ``guest`` never signs in; ``member`` signs in, stays a while, then signs out or
    just closes the browser (drops its cookies), and signs in as its next user; ``sticky``
    signs in once and stays (the outage run checks it).
    """

    client: Client
    role: str
    users: list[str]
    products: list[int]
    rng: random.Random
    stay: tuple[float, float]  # seconds a member stays signed in
    user: str | None = None
    known: bool = True  # whether ``user`` is certain (a failed login or logout is not)
    cart: dict[int, int] | None = field(default_factory=dict)  # None: not known
    maybe_added: list[tuple[int, int]] = field(default_factory=list)  # adds without answer
    views: int | None = 0
    maybe_views: int = 0
    leave_at: float = 0.0
    logins: int = 0
    problems: list[str] = field(default_factory=list)

    def run(self, stop: threading.Event, think: float, delay: float) -> None:
        if stop.wait(delay):
            return
        while not stop.is_set():
            try:
                self.step()
            except Exception as exc:  # a body not as API.md says: note it, go on
                self.problem(f"unexpected answer: {type(exc).__name__}: {exc}")
                self.known, self.cart, self.views = False, None, None
            stop.wait(min(self.rng.expovariate(1 / think), 10 * think) if think else 0)

    def step(self) -> None:
        if "csrftoken" not in self.client.cookies:
            self.client.call("GET", "/api/csrf")
        elif not self.known:
            self.read_session()
        elif self.role != "guest" and self.user is None:
            self.login()
        elif self.role == "member" and time.monotonic() >= self.leave_at:
            if self.rng.random() < 0.5:
                self.logout()
            else:
                self.leave()
        else:
            roll = self.rng.random()
            if roll < 0.25:
                self.read_session()
            elif roll < 0.45:
                self.read_cart()
            elif roll < 0.60 and self.user is not None:
                self.read_profile()
            elif roll < 0.70:
                self.client.call("GET", "/api/products")
            else:
                self.add()

    # --- what it sends ----------------------------------------------------------------

    def login(self) -> None:
        username = self.users[self.logins % len(self.users)]
        self.logins += 1
        status, _ = self.client.call(
            "POST", "/api/login", {"username": username, "password": PASSWORD}
        )
        if status == 200:
            # login() keeps what the guest session held (the cart); the counter too, but
            # it is not checked across a login.
            self.user, self.views = username, None
            self.leave_at = time.monotonic() + self.rng.uniform(*self.stay)
        else:
            self.forget()

    def logout(self) -> None:
        status, _ = self.client.call("POST", "/api/logout")
        if status == 200:  # the session is gone and the cookies cleared
            self.user, self.cart, self.maybe_added, self.views = None, {}, [], 0
        else:
            self.forget()

    def leave(self) -> None:
        """Close the browser: a new one, no cookies (the old session is left to expire)."""
        self.client.cookies.clear()
        self.client.conn.close()
        self.user, self.cart, self.maybe_added, self.views = None, {}, [], 0

    def forget(self) -> None:
        """After a failed login or logout: who we are and what the session holds is unsure."""
        self.known, self.cart, self.views = False, None, None

    def read_session(self) -> None:
        status, body = self.client.call("GET", "/api/session")
        if status != 200:
            self.maybe_views += 1
            return
        user = body["user"]["username"] if body["authenticated"] else None
        self.check_user(user, "GET /api/session")
        if self.views is not None and not (
            self.views < body["views"] <= self.views + 1 + self.maybe_views
        ):
            self.problem(f"view counter {body['views']} after {self.views}")
        self.views, self.maybe_views = body["views"], 0

    def read_profile(self) -> None:
        status, body = self.client.call("GET", "/api/profile")
        if status == 200:
            self.check_user(body["user"]["username"], "GET /api/profile")
        elif status == 401:
            self.check_user(None, "GET /api/profile (401)")

    def read_cart(self) -> None:
        status, body = self.client.call("GET", "/api/cart")
        if status == 200:
            self.check_cart(cart_of(body), None)

    def add(self) -> None:
        product = self.rng.choice(self.products)
        quantity = self.rng.randint(1, 3)
        if self.cart is not None and self.cart.get(product, 0) + quantity > MAX_LINE:
            status, body = self.client.call("DELETE", "/api/cart")
            if status == 200:
                self.check_cart(cart_of(body), None, cleared=True)
            else:
                self.cart = None
            return
        status, body = self.client.call(
            "POST", "/api/cart/items", {"product_id": product, "quantity": quantity}
        )
        if status == 200:
            self.check_cart(cart_of(body), (product, quantity))
        elif self.cart is not None:
            self.maybe_added.append((product, quantity))

    # --- what it checks ---------------------------------------------------------------

    def problem(self, text: str) -> None:
        self.problems.append(f"{self.user or 'guest'}: {text}")

    def check_user(self, seen: str | None, where: str) -> None:
        if self.known and seen != self.user:
            self.problem(f"{where} says signed in as {seen!r}, expected {self.user!r}")
            self.cart, self.views = None, None  # not the session it had: start over
        if self.user != seen or not self.known:
            self.leave_at = time.monotonic() + self.rng.uniform(*self.stay)
        self.user, self.known = seen, True

    def check_cart(
        self, seen: dict[int, int], added: tuple[int, int] | None, cleared: bool = False
    ) -> None:
        if cleared:  # emptied: nothing of what it held is expected any more
            if seen:
                self.problem(f"cart {seen} after DELETE /api/cart")
        elif self.cart is not None:
            low = Counter(self.cart)
            if added:
                low[added[0]] += added[1]
            slack = Counter()
            for product, quantity in self.maybe_added:
                slack[product] += quantity
            for product in set(low) | set(seen) | set(slack):
                if not low[product] <= seen.get(product, 0) <= low[product] + slack[product]:
                    self.problem(f"cart {seen}, expected {dict(low)} (+ unanswered {dict(slack)})")
                    break
        self.cart, self.maybe_added = seen, []


# --- set-up -------------------------------------------------------------------------------
