"""Smoke test of the customer pages in a real browser: log in, add a customer, find it."""

import re

import pytest
from playwright.sync_api import expect

from customers.models import Customer

pytestmark = pytest.mark.e2e


def open_new_customer_form(page):
    page.goto("/customers/")
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
    with page.expect_navigation():
        page.get_by_role("link", name="New customer").click()
    expect(page).to_have_url(re.compile(r"/customers/new/$"))
    expect(page.get_by_role("heading", name="New customer")).to_be_visible()


def test_rep_creates_customer_and_finds_it_in_the_list(rep_page, rep_user):
    page = rep_page
    open_new_customer_form(page)

    page.fill("#id_code", "e2e1")
    page.fill("#id_name", "Smoke Test Supplies")
    page.fill("#id_billing_contact", "Pat Payable")
    page.fill("#id_email", "billing@smoke.example.com")
    page.select_option("#id_billing_terms", label="Net 15")
    with page.expect_navigation():
        page.get_by_role("button", name="Save customer").click()

    # Redirected to the new customer's record, with a confirmation.
    expect(page).to_have_url(re.compile(r"/customers/\d+/$"))
    expect(page.locator(".messages")).to_contain_text("Customer E2E1 created.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Smoke Test Supplies")
    expect(page.get_by_role("heading", level=1)).to_contain_text("(E2E1)")
    expect(page.locator("#ar-balance")).to_be_visible()
    expect(page.get_by_role("link", name="billing@smoke.example.com")).to_be_visible()

    customer = Customer.objects.get(code="E2E1")
    assert customer.name == "Smoke Test Supplies"
    assert customer.billing_terms == "net_15"
    assert customer.created_by == rep_user

    # And it is listed on the customer list, linking back to the record.
    page.goto("/customers/")
    row = page.locator("#results tbody tr", has_text="E2E1")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Smoke Test Supplies")
    expect(row).to_contain_text("billing@smoke.example.com")
    expect(row).to_contain_text("Net 15")
    with page.expect_navigation():
        row.get_by_role("link", name="Smoke Test Supplies").click()
    expect(page).to_have_url(re.compile(rf"/customers/{customer.pk}/$"))


def test_invalid_email_shows_a_field_error_and_saves_nothing(rep_page):
    page = rep_page
    open_new_customer_form(page)

    page.fill("#id_code", "BAD1")
    page.fill("#id_name", "Bad Email Co")
    page.fill("#id_email", "not-an-email")
    with page.expect_navigation():
        page.get_by_role("button", name="Save customer").click()

    # Still on the form, the error is shown next to the email field and the input is kept.
    expect(page).to_have_url(re.compile(r"/customers/new/$"))
    error = page.locator("#id_email_error")
    expect(error).to_be_visible()
    expect(error).to_have_text("Enter a valid email address.")
    expect(page.locator(".field.has-error")).to_have_count(1)
    expect(page.locator(".field.has-error #id_email")).to_have_value("not-an-email")
    expect(page.locator("#id_name")).to_have_value("Bad Email Co")
    expect(page.locator(".messages")).to_have_count(0)

    assert not Customer.objects.exists()
