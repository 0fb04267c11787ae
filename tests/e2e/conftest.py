"""End-to-end fixtures: a real gunicorn, real Redis and database, Debian's Chromium.

Playwright's sync API keeps an asyncio loop running in this thread while it is started,
and Django refuses ORM calls (SynchronousOnlyOperation) while a loop runs. So every test
creates its users and products before it opens its first browser context (``new_context``
starts Chromium lazily), and the browser is stopped before the database is flushed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import override_settings
from playwright.sync_api import expect, sync_playwright

from tests.servers import gunicorn

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
SKIP_REASON = f"{CHROMIUM} is not installed: the browser tests need Debian's chromium"
HERE = Path(__file__).resolve().parent
SCREENSHOTS = HERE.parent / "output" / "screenshots"

PASSWORD = "correct horse 9"
ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"
# Distinct user agents make the contexts tell apart in session listings.
DESKTOP_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 375, "height": 812}


def pytest_collection_modifyitems(config, items):
    """Skip every test of this package when the browser is missing (make test still passes)."""
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(skip)


@contextmanager
def serve(**env: str) -> Iterator[tuple[str, Path]]:
    """A production-like gunicorn (DEBUG=0, two workers) on a free port, no login limits."""
    with gunicorn(workers=2, threads=4, **{"LOGIN_RATE_LIMIT": "100/15m", **env}) as served:
        yield served


@pytest.fixture
def server(redis) -> Iterator[str]:
    """The server with the default timeouts; yields its base URL."""
    with serve() as (base, _log):
        yield base


@pytest.fixture
def new_context() -> Iterator[Callable]:
    """Open a browser context (one "device", its own cookies) on a server.

    Chromium starts on the first call, so a test can create its rows before that.
    """
    if not CHROMIUM.exists():
        pytest.skip(SKIP_REASON)
    with ExitStack() as stack:
        browsers = []

        def make(base_url: str, user_agent: str = DESKTOP_UA, viewport: dict | None = None):
            if not browsers:
                playwright = stack.enter_context(sync_playwright())
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                stack.callback(browser.close)
                browsers.append(browser)
            context = browsers[0].new_context(
                base_url=base_url, user_agent=user_agent, viewport=viewport or WIDE
            )
            context.set_default_timeout(10_000)
            return context

        yield make


@pytest.fixture
def make_account(django_user_model) -> Callable:
    """Create a user whose password hash the server (Argon2 first) can check."""

    def make(username: str, **extra):
        with override_settings(PASSWORD_HASHERS=[ARGON2]):
            user = django_user_model.objects.create_user(
                username=username, email=f"{username}@example.com", password=PASSWORD, **extra
            )
        assert user.password.startswith("argon2")
        return user

    return make


@pytest.fixture
def products(db) -> list:
    from cart.models import Product

    return [
        Product.objects.create(name="Blue mug", price=Decimal("9.50"), stock=10),
        Product.objects.create(name="Tea towel", price=Decimal("4.25"), stock=10),
    ]


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def sign_in(page, username: str, password: str = PASSWORD, next_url: str = "") -> None:
    """Sign in through the login form and wait until the server has signed us in."""
    page.goto("/accounts/login/" + (f"?next={next_url}" if next_url else ""))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert "/accounts/login/" not in page.url, page.locator("main").inner_text()
    if path_of(page.url).startswith("/admin/"):
        expect(page.locator("#user-tools")).to_contain_text(username)
    else:
        assert_signed_in(page, username)


def nav(page):
    return page.get_by_role("navigation", name="Main")


def assert_signed_in(page, username: str) -> None:
    expect(nav(page).get_by_role("link", name=username, exact=True)).to_be_visible()
    expect(nav(page).get_by_role("link", name="Sign in")).to_have_count(0)


def assert_anonymous(page) -> None:
    expect(nav(page).get_by_role("link", name="Sign in")).to_be_visible()
    expect(nav(page).get_by_role("link", name="Your sessions")).to_have_count(0)


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)
