"""Browser fixtures for the end-to-end tests: one headless Chromium per session.

The tests drive Debian's Chromium (`apt-get install chromium`), not a browser downloaded
by `playwright install`. Without it the e2e tests are skipped with a reason on a
developer's machine, and fail when CREDITDESK_REQUIRE_BROWSER is set (CI), so a CI
machine that lost its browser can't pass by skipping them.
"""

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import browser_required
from tests.factories import make_user

# Playwright's sync API keeps an asyncio event loop in this thread; Django would then
# refuse ORM calls made by the test itself (SynchronousOnlyOperation).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Playwright's default waits are 30s; a page of this app should never need more than this.
TIMEOUT_MS = 15_000

REP_PASSWORD = "e2e-Rep-password-4711"
POSTER_PASSWORD = "e2e-Poster-password-4712"


def _no_browser(reason: str):
    if browser_required():
        pytest.fail(f"{reason} (CREDITDESK_REQUIRE_BROWSER is set, so this is an error)")
    pytest.skip(reason)


def _chromium_path() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return None


@pytest.fixture(scope="session")
def browser():
    executable = _chromium_path()
    if executable is None:
        _no_browser("no Chromium found; install it with `apt-get install chromium`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (no cookies) pointed at the live server.

    live_server makes the test transactional; tests/conftest.py puts the migrations'
    reference data (role groups, chart, items...) back before each such test.
    """
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def log_in(page, username: str, password: str) -> None:
    """Log in through the real login form and check the header shows who we are."""
    page.goto("/login/")
    expect(page.get_by_role("heading", name="Log in to Credit Desk")).to_be_visible()
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    # Logged in: the header shows who we are and a log-out button.
    expect(page.locator(".userbox .user")).to_contain_text(username)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def log_out(page) -> None:
    """The header's "Log out" button (a POST form); it lands on the login page."""
    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to Credit Desk")).to_be_visible()
    expect(page.locator(".userbox")).to_have_count(0)


def _user_with_password(role: str, username: str, password: str):
    user = make_user(role, username)
    user.set_password(password)
    user.save()
    return user


@pytest.fixture
def rep_user(transactional_db):
    return _user_with_password("A/R rep", "rep", REP_PASSWORD)


@pytest.fixture
def poster_user(transactional_db):
    """A Poster (posts, voids, releases refunds; may also do everything a rep does)."""
    return _user_with_password("Poster", "poster", POSTER_PASSWORD)


@pytest.fixture
def rep_page(page, rep_user):
    """A page logged in as the A/R rep through the real login form."""
    log_in(page, rep_user.username, REP_PASSWORD)
    return page
