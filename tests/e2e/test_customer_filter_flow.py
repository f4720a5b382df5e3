"""The customer filter on the listings in a real browser: an autocomplete that suggests
customers as one types, is driven with the keyboard, filters the table when one is chosen,
and still works as a plain text field (typed and submitted) — and a screenshot of it open
at 800 and 1280 px (var/screenshots/, for looking at)."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.factories import CustomerFactory, make_invoice

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def documents(rep_user):
    alpha = CustomerFactory(code="ALP", name="Alpha Prints")
    CustomerFactory(code="ALT", name="Altitude Outfitters")
    beta = CustomerFactory(code="BET", name="Beta Bakery")
    return {
        "alpha": make_invoice(customer=alpha, by=rep_user).number,
        "beta": make_invoice(customer=beta, by=rep_user).number,
    }


def test_typing_suggests_customers_and_the_keyboard_picks_one(rep_page, documents):
    page = rep_page
    page.goto("/invoices/")
    field = page.get_by_role("combobox", name="Customer")
    field.click()
    field.press_sequentially("al", delay=40)
    options = page.get_by_role("listbox", name="Matching customers").get_by_role("option")
    expect(options).to_have_count(2)
    expect(field).to_have_attribute("aria-expanded", "true")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 800):
        page.set_viewport_size({"width": width, "height": 720})
        page.screenshot(path=str(SHOTS / f"hub-customer-autocomplete-{width}.png"))

    field.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(field).to_have_attribute("aria-activedescendant", re.compile(r".+-1$"))
    field.press("Enter")
    expect(field).to_have_value("ALP")
    expect(field).to_have_attribute("aria-expanded", "false")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(documents["alpha"])
    expect(page).to_have_url(re.compile(r"customer=ALP"))

    field.fill("")
    field.press_sequentially("bet", delay=40)
    expect(options).to_have_count(1)
    field.press("Escape")
    expect(field).to_have_attribute("aria-expanded", "false")


def test_the_customer_field_works_as_plain_text(browser, live_server, rep_user, documents):
    """Without JavaScript, a name typed and the form submitted filters the list."""
    from tests.e2e.conftest import REP_PASSWORD, TIMEOUT_MS, log_in

    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        log_in(page, rep_user.username, REP_PASSWORD)
        page.goto("/payments/")
        page.goto("/invoices/")
        page.fill("input[name=customer]", "bakery")
        with page.expect_navigation():
            page.get_by_role("button", name="Filter").click()
        rows = page.locator("#results tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(documents["beta"])
    finally:
        context.close()
