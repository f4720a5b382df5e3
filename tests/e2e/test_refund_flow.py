"""Refund a credit memo's open credit, in a real browser: the rep prepares the refund with
Payment or Refund, a Poster releases it (four eyes), and the memo's Balance Due is 0.00."""

import datetime
import re

import pytest
from playwright.sync_api import expect

from invoicing import services
from invoicing.models import Document, DocumentKind
from tests.e2e.conftest import POSTER_PASSWORD, log_in, log_out
from tests.factories import CustomerFactory, line

pytestmark = pytest.mark.e2e


def test_rep_prepares_a_refund_and_a_poster_releases_it(rep_page, rep_user, poster_user):
    """From a posted credit memo of 75.00 the rep clicks "Payment or Refund": Refund is
    preselected, "<" fills the Refund Amount with the open credit 75.00, Refund Method
    Check, Save → RFD-000001 is pending and listed under the memo's Payments & Refunds.
    The rep logs out; the Poster logs in, opens RFD-000001 from the memo and clicks
    "Release refund"; the memo's Balance Due is then 0.00."""
    page = rep_page
    customer = CustomerFactory(name="Refund Me Ltd")
    memo = services.document_create(
        kind=DocumentKind.CREDIT_MEMO,
        customer=customer,
        date=datetime.date(2026, 11, 3),
        reason="return",
        lines=[line("SVC", "1", "75.00")],
        by=rep_user,
    )
    memo = services.document_post(document=memo, by=poster_user)

    page.goto(memo.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Credit Memo {memo.number}")
    expect(page.locator("#balance-due")).to_have_text("-75.00")
    # A rep may prepare refunds, not release them.
    expect(page.locator("#release-refund")).to_have_count(0)
    with page.expect_navigation():
        page.locator("#payment-or-refund").click()

    expect(page).to_have_url(re.compile(rf"/invoices/{memo.pk}/payment-or-refund/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment or Refund")
    expect(page.get_by_role("radio", name="Refund")).to_be_checked()
    expect(page.get_by_role("radio", name="Payment")).not_to_be_checked()
    expect(page.locator("#open-credit")).to_have_text("75.00")
    amount = page.get_by_label("Refund Amount")
    expect(amount).to_have_value("")

    with page.expect_navigation():
        page.locator("#fill-credit").click()
    expect(amount).to_have_value("75.00")
    expect(page.get_by_role("radio", name="Refund")).to_be_checked()
    # Filling isn't saving: no errors shown yet.
    expect(page.locator(".field-error")).to_have_count(0)

    page.get_by_label("Refund Method").select_option(label="Check")
    page.get_by_label("Reference").fill("1042")
    with page.expect_navigation():
        page.locator("#save-money").click()

    expect(page).to_have_url(re.compile(rf"/invoices/{memo.pk}/$"))
    expect(page.locator(".messages")).to_contain_text(
        "Refund RFD-000001 of 75.00 is pending release by a Poster."
    )
    pending = page.locator("#money-links tbody tr", has_text="RFD-000001")
    expect(pending).to_have_count(1)
    expect(pending).to_contain_text("Refund")
    expect(pending).to_contain_text("Check")
    expect(pending).to_contain_text("75.00")
    expect(pending).to_contain_text("Pending")
    # Still owed to the customer until the money goes out.
    expect(page.locator("#balance-due")).to_have_text("-75.00")

    refund = Document.objects.get(kind=DocumentKind.REFUND)
    assert (refund.number, refund.method, refund.created_by) == ("RFD-000001", "check", rep_user)

    log_out(page)
    log_in(page, poster_user.username, POSTER_PASSWORD)

    page.goto(memo.get_absolute_url())
    with page.expect_navigation():
        page.locator("#money-links").get_by_role("link", name="RFD-000001").click()
    expect(page).to_have_url(re.compile(rf"/invoices/{refund.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Refund RFD-000001")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pending")
    expect(page.locator("#money-amount")).to_have_text("75.00")
    with page.expect_navigation():
        page.locator("#release-refund").click()

    expect(page.locator(".messages")).to_contain_text("Refund RFD-000001 of 75.00 released.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Released")
    expect(page.locator("#release-refund")).to_have_count(0)
    expect(page.locator("#money-detail")).to_contain_text("poster")

    with page.expect_navigation():
        page.locator("#money-detail").get_by_role("link", name=memo.number).click()
    expect(page).to_have_url(re.compile(rf"/invoices/{memo.pk}/$"))
    expect(page.locator("#balance-due")).to_have_text("0.00")
    released = page.locator("#money-links tbody tr", has_text="RFD-000001")
    expect(released).to_contain_text("Released")
    expect(released).to_contain_text("poster")
