"""Apply Credit from a credit memo to three open invoices, in a real browser: the running
summary and the row errors update as the rep types (htmx, no page load), "Apply oldest
first" fills the rows, Apply saves."""

import datetime
import os
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from invoicing import services
from invoicing.models import Application, Document, DocumentKind
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


def test_rep_pages_searches_and_applies_amounts_typed_on_two_pages(rep_page, rep_user, poster_user):
    """60 open invoices, 25 a page: 50 typed on page 1, page 3 (htmx, same page) shows the
    last 10, Applying still counts the 50 and then the 30 typed there ("2 rows, 1 of them
    on other pages"); a search finds one invoice by number without applying anything
    (Enter searches); clearing the search brings page 1 back with its 50; Enter in an
    amount applies both rows."""
    from tests.invoicing.test_picker import bulk_open_invoices

    page = rep_page
    customer = CustomerFactory(name="Many Orders Inc")
    first = make_invoice(
        customer=customer,
        by=rep_user,
        post_by=poster_user,
        date=datetime.date(2026, 9, 1),
        lines=[line("SVC", "1", "100.00")],
    )
    bulk_open_invoices(first, 59)
    docs = list(
        Document.objects.filter(customer=customer, balance_due__gt=0).order_by(
            "due_date", "date", "id"
        )
    )
    assert len(docs) == 60 and docs[0].pk == first.pk
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
    rows = page.locator("#allocation-table tbody tr")
    expect(rows).to_have_count(25)
    expect(page.locator("#picker-count")).to_contain_text("1–25 of 60 open invoices")
    page.evaluate("window.__e2eSamePage = true")

    page.get_by_label(f"Amount to apply to {docs[0].number}").fill("50")
    expect(page.locator("#applying")).to_have_text("50.00")

    _screenshots(page, "picker-page1")
    page.get_by_role("button", name="Page 3").click()
    expect(rows).to_have_count(10)
    expect(rows.first).to_contain_text(docs[50].number)
    expect(page.locator("#applying")).to_have_text("50.00")
    page.get_by_label(f"Amount to apply to {docs[55].number}").fill("30")
    expect(page.locator("#applying")).to_have_text("80.00")
    expect(page.locator("#remaining")).to_have_text("420.00")
    expect(page.locator("#applying-elsewhere")).to_have_text("2 (1 on other pages)")
    _screenshots(page, "picker-page3")

    search = page.get_by_label("Find an invoice")
    search.fill(docs[10].number)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(docs[10].number)
    search.press("Enter")
    expect(rows).to_have_count(1)
    expect(page.locator("#applying")).to_have_text("80.00")
    assert not Application.objects.exists()
    search.fill("")
    expect(rows).to_have_count(25)
    expect(page.get_by_label(f"Amount to apply to {docs[0].number}")).to_have_value("50")
    assert page.evaluate("window.__e2eSamePage === true")

    with page.expect_navigation():
        page.get_by_label(f"Amount to apply to {docs[1].number}").press("Enter")
    expect(page).to_have_url(re.compile(rf"/invoices/{memo.pk}/$"))
    expect(page.locator(".messages")).to_contain_text(
        f"Applied 80.00 of {memo.number} to 2 documents."
    )
    applied = dict(Application.objects.values_list("target_id", "amount"))
    assert applied == {docs[0].pk: Decimal("50.00"), docs[55].pk: Decimal("30.00")}


def test_apply_oldest_first_over_every_page_and_errors_on_other_pages(
    rep_page, rep_user, poster_user
):
    """A credit of 2,750.00 over 30 invoices of 100.00: "Apply oldest first" fills 28 rows
    on the server (25 on screen), says so, and leaves 0.00; too much typed on a row that
    then goes off screen is listed above the table after Apply, and its button shows it."""
    from tests.invoicing.test_picker import bulk_open_invoices

    page = rep_page
    customer = CustomerFactory(name="Thirty Orders Inc")
    first = make_invoice(
        customer=customer,
        by=rep_user,
        post_by=poster_user,
        date=datetime.date(2026, 9, 1),
        lines=[line("SVC", "1", "100.00")],
    )
    bulk_open_invoices(first, 29)
    docs = list(
        Document.objects.filter(customer=customer, balance_due__gt=0).order_by(
            "due_date", "date", "id"
        )
    )
    memo = services.document_create(
        kind=DocumentKind.CREDIT_MEMO,
        customer=customer,
        date=datetime.date(2026, 11, 10),
        reason="goodwill",
        lines=[line("SVC", "1", "2750.00")],
        by=rep_user,
    )
    memo = services.document_post(document=memo, by=poster_user)
    page.goto(f"/invoices/{memo.pk}/apply/")
    page.locator("#fill-oldest").click()
    expect(page.locator("#fill-result")).to_contain_text(
        "Apply oldest first: 2,750.00 to 28 invoices, oldest due first (3 of them on later pages)."
    )
    expect(page.locator("#remaining")).to_have_text("0.00")
    expect(page.get_by_label(f"Amount to apply to {docs[24].number}")).to_have_value("100.00")
    _screenshots(page, "picker-filled")

    page.locator("#clear-amounts").click()
    expect(page.locator("#applying")).to_have_text("0.00")
    page.get_by_role("button", name="Page 2").click()
    page.get_by_label(f"Amount to apply to {docs[29].number}").fill("150")
    expect(page.locator(f"#rowerr-{docs[29].pk}")).to_contain_text("More than")
    page.get_by_role("button", name="Page 1").click()
    page.get_by_label(f"Amount to apply to {docs[0].number}").fill("10")
    with page.expect_navigation():
        page.locator("#apply-button").click()
    banner = page.locator("#other-page-errors")
    expect(banner).to_contain_text(f"{docs[29].number}: More than")
    _screenshots(page, "picker-errors")
    banner.get_by_role("button", name=docs[29].number).click()
    expect(page.locator("#allocation-table tbody tr")).to_have_count(1)
    expect(page.locator(f"#rowerr-{docs[29].pk}")).to_contain_text("More than")
    expect(page.get_by_label("Find an invoice")).to_have_value(docs[29].number)
    assert not Application.objects.exists()


def _screenshots(page, name: str) -> None:
    """With PICKER_SCREENSHOTS=<dir>: the page at 800 and 1280 px wide (for looking)."""
    folder = os.environ.get("PICKER_SCREENSHOTS")
    if not folder:
        return
    for width in (800, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=f"{folder}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 720})
