"""Customer Deposit end to end, in a real browser: the rep records it from the customer
record, a Poster posts it, and Apply Deposit puts it on an invoice as a payment."""

import re

import pytest
from playwright.sync_api import expect

from invoicing.models import Deposit
from tests.e2e.conftest import POSTER_PASSWORD, log_in, log_out
from tests.factories import CustomerFactory, line, make_invoice

pytestmark = pytest.mark.e2e


def test_deposit_recorded_posted_and_applied_to_an_invoice(rep_page, rep_user, poster_user):
    """The rep opens the customer, clicks "Customer Deposit", enters 400.00 by Check and
    saves: DEP-000001 is a draft the rep can't post. The Poster logs in and posts it. An
    invoice of 1,000.00 is posted for the customer; on it the Poster clicks "Apply
    Deposit", keeps the proposed 400.00 and applies: the invoice lists "Customer Deposit
    DEP-000001" under Payments & Refunds and its Balance Due is 600.00."""
    page = rep_page
    customer = CustomerFactory(name="Pays Ahead Co")

    page.goto(customer.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pays Ahead Co")
    expect(page.locator("#deposits-held")).to_have_text("0.00")
    with page.expect_navigation():
        page.locator("#new-deposit").click()

    expect(page).to_have_url(re.compile(rf"/deposits/new/\?customer={customer.pk}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Customer Deposit")
    expect(page.locator(".lead")).to_contain_text("Pays Ahead Co")
    page.get_by_label("Amount").fill("400.00")
    page.get_by_label("Method").select_option(label="Check")
    page.get_by_label("Reference").fill("5521")
    with page.expect_navigation():
        page.locator("#save-deposit").click()

    deposit = Deposit.objects.get()
    expect(page).to_have_url(re.compile(rf"/deposits/{deposit.pk}/$"))
    expect(page.locator(".messages")).to_contain_text(
        "Customer Deposit DEP-000001 of 400.00 recorded."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("Customer Deposit DEP-000001")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Draft")
    expect(page.locator("#deposit-amount")).to_have_text("400.00")
    # Posting is a Poster's job: the rep has no Post button.
    expect(page.locator("#post-deposit")).to_have_count(0)
    assert (deposit.number, deposit.method, deposit.created_by) == ("DEP-000001", "check", rep_user)

    log_out(page)
    log_in(page, poster_user.username, POSTER_PASSWORD)

    page.goto(deposit.get_absolute_url())
    with page.expect_navigation():
        page.locator("#post-deposit").click()
    expect(page.locator(".messages")).to_contain_text("Customer Deposit DEP-000001 posted.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Posted")
    expect(page.locator("#deposit-remaining")).to_have_text("400.00")
    expect(page.locator("#post-deposit")).to_have_count(0)

    invoice = make_invoice(
        customer=customer,
        by=poster_user,
        post_by=poster_user,
        lines=[line("SVC", "8", "125.00")],
    )

    page.goto(invoice.get_absolute_url())
    expect(page.locator("#grand-total")).to_have_text("1,000.00")
    expect(page.locator("#balance-due")).to_have_text("1,000.00")
    with page.expect_navigation():
        page.locator("#apply-deposit").click()

    expect(page).to_have_url(re.compile(rf"/invoices/{invoice.pk}/apply-deposit/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Apply Deposit")
    expect(page.get_by_label("Deposit")).to_have_value(str(deposit.pk))
    expect(page.get_by_label("Deposit").locator("option:checked")).to_contain_text("DEP-000001")
    # Proposed: the lesser of what is left on the deposit and the invoice's Balance Due.
    expect(page.get_by_label("Amount")).to_have_value("400.00")
    with page.expect_navigation():
        page.locator("#apply-deposit-button").click()

    expect(page).to_have_url(re.compile(rf"/invoices/{invoice.pk}/$"))
    expect(page.locator(".messages")).to_contain_text(
        f"Applied 400.00 of DEP-000001 to {invoice.number}."
    )
    payments = page.locator("#deposit-payments")
    expect(payments).to_contain_text("Customer Deposit DEP-000001")
    row = payments.locator("tbody tr", has_text="DEP-000001")
    expect(row).to_contain_text("400.00")
    expect(row).to_contain_text("Applied")
    expect(page.locator("#balance-due")).to_have_text("600.00")

    # The deposit is used up: nothing left to apply or hold.
    page.goto(customer.get_absolute_url())
    expect(page.locator("#deposits-held")).to_have_text("0.00")
    expect(page.locator("#financial-transactions tbody tr", has_text="DEP-000001")).to_contain_text(
        "400.00"
    )
