"""Apply Credit from a credit memo to three open invoices, in a real browser: the running
summary and the row errors update as the rep types (htmx, no page load), "Apply oldest
first" fills the rows, Apply saves."""

import datetime
import re

import pytest
from playwright.sync_api import expect

from invoicing import services
from invoicing.models import DocumentKind
from tests.factories import CustomerFactory, line, make_invoice

pytestmark = pytest.mark.e2e


def test_rep_applies_a_credit_memo_oldest_first(rep_page, rep_user, poster_user):
    """A posted credit memo of 500.00 and three posted invoices of 300.00 (dated 11/01,
    11/05 and 11/09): typing 120 on the oldest shows Remaining credit 380.00 without
    reloading the page; 400 on the second shows "More than ..." on that row; "Apply oldest
    first" fills 300.00 and 200.00 and leaves 0.00; Apply lands on the memo, and the
    invoices' Balance Due are 0.00, 100.00 and 300.00."""
    page = rep_page
    customer = CustomerFactory(name="Three Orders Inc")
    oldest, middle, newest = (
        make_invoice(
            customer=customer,
            by=rep_user,
            post_by=poster_user,
            date=datetime.date(2026, 11, day),
            lines=[line("SVC", "1", "300.00")],
        )
        for day in (1, 5, 9)
    )
    memo = services.document_create(
        kind=DocumentKind.CREDIT_MEMO,
        customer=customer,
        date=datetime.date(2026, 11, 10),
        reason="goodwill",
        lines=[line("SVC", "1", "500.00")],
        by=rep_user,
    )
    memo = services.document_post(document=memo, by=poster_user)

    page.goto(f"/invoices/{memo.pk}/apply/")
    apply_url = page.url
    expect(page.get_by_role("heading", level=1)).to_have_text("Apply Credit")
    expect(page.locator(".lead")).to_contain_text(f"Apply Credit Memo {memo.number}")
    # Oldest due first, one row per open invoice.
    rows = page.locator("#allocation-table tbody tr")
    expect(rows).to_have_count(3)
    for row, invoice in zip(rows.all(), (oldest, middle, newest), strict=True):
        expect(row).to_contain_text(invoice.number)
        expect(row).to_contain_text("300.00")
    expect(page.locator("#available")).to_have_text("500.00")
    expect(page.locator("#remaining")).to_have_text("500.00")

    # A marker in the page's JavaScript state: it survives only if no new page is loaded.
    page.evaluate("window.__e2eSamePage = true")

    page.locator(f"input[name='amount_{oldest.pk}']").fill("120")
    expect(page.locator("#applying")).to_have_text("120.00")
    expect(page.locator("#remaining")).to_have_text("380.00")
    expect(page.locator(f"#newbal-{oldest.pk}")).to_have_text("180.00")

    page.locator(f"input[name='amount_{middle.pk}']").fill("400")
    row_error = page.locator(f"#rowerr-{middle.pk}")
    expect(row_error).to_contain_text("More than")
    expect(row_error).to_contain_text(f"{middle.number}'s open 300.00")
    # The rejected amount doesn't count; the first row's still does.
    expect(page.locator("#remaining")).to_have_text("380.00")
    expect(page.locator(f"#rowerr-{oldest.pk}")).to_have_text("")

    assert page.url == apply_url
    assert page.evaluate("window.__e2eSamePage === true")

    page.locator("#fill-oldest").click()
    expect(page.locator(f"input[name='amount_{oldest.pk}']")).to_have_value("300.00")
    expect(page.locator(f"input[name='amount_{middle.pk}']")).to_have_value("200.00")
    expect(page.locator(f"input[name='amount_{newest.pk}']")).to_have_value("")
    expect(page.locator(f"#rowerr-{middle.pk}")).to_have_text("")
    expect(page.locator("#applying")).to_have_text("500.00")
    expect(page.locator("#remaining")).to_have_text("0.00")
    expect(page.locator(f"#newbal-{oldest.pk}")).to_have_text("0.00")
    expect(page.locator(f"#newbal-{middle.pk}")).to_have_text("100.00")
    assert page.url == apply_url
    assert page.evaluate("window.__e2eSamePage === true")

    with page.expect_navigation():
        page.locator("#apply-button").click()
    expect(page).to_have_url(re.compile(rf"/invoices/{memo.pk}/$"))
    expect(page.locator(".messages")).to_contain_text(
        f"Applied 500.00 of {memo.number} to 2 documents."
    )
    expect(page.locator("#balance-due")).to_have_text("0.00")
    applied = page.locator("#applications tbody tr")
    expect(applied).to_have_count(2)
    expect(applied.filter(has_text=oldest.number)).to_contain_text("300.00")
    expect(applied.filter(has_text=middle.number)).to_contain_text("200.00")

    for invoice, balance in ((oldest, "0.00"), (middle, "100.00"), (newest, "300.00")):
        page.goto(invoice.get_absolute_url())
        expect(page.get_by_role("heading", level=1)).to_contain_text(invoice.number)
        expect(page.locator("#balance-due")).to_have_text(balance)
