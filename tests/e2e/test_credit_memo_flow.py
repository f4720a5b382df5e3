"""Create Credit Memo from a posted invoice, in a real browser, as the A/R rep."""

import re

import pytest
from playwright.sync_api import expect

from invoicing.models import Document, DocumentKind
from tests.factories import CustomerFactory, line, make_invoice

pytestmark = pytest.mark.e2e


def test_rep_credits_part_of_a_posted_invoice(rep_page, rep_user, poster_user):
    """From a posted invoice of 5 × 250.00 (tax profile OUT, so no tax), the rep clicks
    "Create Credit Memo", lowers the line's quantity from the prefilled 5 to 2, picks a
    reason and saves: the draft Credit Memo CM-000001 opens with a Grand Total of -500.00
    and points back at the invoice, which is unchanged."""
    page = rep_page
    customer = CustomerFactory(name="Returns Unlimited")
    invoice = make_invoice(
        customer=customer,
        by=rep_user,
        post_by=poster_user,
        lines=[line("PRT", "5", "250.00", tax_code="OUT")],
    )
    invoice_line = invoice.lines.get()

    page.goto(invoice.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Invoice {invoice.number}")
    expect(page.locator("#grand-total")).to_have_text("1,250.00")
    with page.expect_navigation():
        page.get_by_role("link", name="Create Credit Memo").click()

    expect(page).to_have_url(re.compile(rf"/invoices/{invoice.pk}/credit-memo/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Create Credit Memo")
    expect(page.locator(".lead")).to_contain_text(f"From Invoice {invoice.number}")
    qty = page.locator(f"input[name='qty_{invoice_line.pk}']")
    # Prefilled with everything that can still be credited, the line ticked.
    expect(qty).to_have_value("5")
    expect(page.locator(f"input[name='include_{invoice_line.pk}']")).to_be_checked()

    qty.fill("2")
    page.select_option("#id_reason", label="Return")
    with page.expect_navigation():
        page.get_by_role("button", name="Save credit memo").click()

    memo = Document.objects.get(kind=DocumentKind.CREDIT_MEMO)
    expect(page).to_have_url(re.compile(rf"/invoices/{memo.pk}/$"))
    expect(page).to_have_title(re.compile(r"^Credit Memo CM-000001 "))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Credit Memo CM-000001")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Draft")
    expect(page.locator(".messages")).to_contain_text("Credit Memo CM-000001 saved as a draft.")
    expect(page.locator("#order-detail tbody tr")).to_have_count(1)
    expect(page.locator("#order-detail tbody tr")).to_contain_text("-2")
    expect(page.locator("#subtotal")).to_have_text("-500.00")
    expect(page.locator("#tax-total")).to_have_text("0.00")
    expect(page.locator("#grand-total")).to_have_text("-500.00")
    expect(page.locator(".doc-meta")).to_contain_text("Return")
    expect(page.get_by_role("link", name=invoice.number)).to_be_visible()

    assert memo.number == "CM-000001"
    assert memo.source_invoice_id == invoice.pk
    assert memo.reason == "return"
    assert memo.created_by == rep_user

    # The invoice lists its memo; its own totals don't change until the memo is posted
    # and applied.
    with page.expect_navigation():
        page.get_by_role("link", name=invoice.number).click()
    row = page.locator("#credit-memos tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("CM-000001")
    expect(row).to_contain_text("-500.00")
    expect(page.locator("#balance-due")).to_have_text("1,250.00")
