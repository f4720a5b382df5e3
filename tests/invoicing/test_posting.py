"""Posting and voiding invoices: the worked example of ledger/ACCOUNTING.md, who may post or void,
and the books-closed date."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from invoicing import selectors, services
from invoicing.exceptions import InvoicingError
from invoicing.models import Document, DocumentStatus, Item, TaxProfile
from ledger import selectors as ledger_selectors
from ledger.exceptions import PeriodClosed
from ledger.models import (
    Account,
    AccountType,
    AuditEvent,
    JournalEntry,
    NormalSide,
    SystemRole,
)
from ledger.money import ZERO
from tests.factories import CustomerFactory, line, make_invoice
from tests.helpers import assert_entry_lines, close_books, entry_lines
from tests.invoicing.books import books_stay_balanced, fast_password_hashing  # noqa: F401

D = Decimal
DOC_DATE = datetime.date(2026, 11, 2)

pytestmark = pytest.mark.usefixtures("fast_password_hashing", "books_stay_balanced")


def worked_invoice(customer, by, **kwargs):
    """ledger/ACCOUNTING.md's worked invoice: two lines taxed at STD 8.25%.

    PRT 3 x 250.00 = 750.00, tax 61.875 -> 61.88; SVC 2 x 125.00 = 250.00, tax 20.625 -> 20.63.
    """
    return make_invoice(
        customer=customer,
        by=by,
        date=DOC_DATE,
        lines=[line("PRT", "3", "250.00", "STD"), line("SVC", "2", "125.00", "STD")],
        **kwargs,
    )


def assert_trial_balance_zero():
    rows = ledger_selectors.trial_balance()
    debits = sum((r["debit"] for r in rows), ZERO)
    credits = sum((r["credit"] for r in rows), ZERO)
    assert debits == credits


# --- the worked example ------------------------------------------------------------------


def test_worked_invoice_rounds_each_line_and_its_tax_half_up(customer, rep):
    """Each line's extended amount and tax are rounded half-up on their own; the totals are
    sums of rounded lines (82.51 of tax, not 8.25% of 1,000.00 = 82.50)."""
    invoice = worked_invoice(customer, rep)

    lines = list(invoice.lines.order_by("position"))
    assert [(ln.extended_amount, ln.tax_amount) for ln in lines] == [
        (D("750.00"), D("61.88")),
        (D("250.00"), D("20.63")),
    ]
    assert [ln.tax_rate for ln in lines] == [D("8.2500"), D("8.2500")]
    assert (invoice.subtotal, invoice.tax_total, invoice.grand_total) == (
        D("1000.00"),
        D("82.51"),
        D("1082.51"),
    )
    assert invoice.status == DocumentStatus.DRAFT
    assert not JournalEntry.objects.exists(), "a draft reaches no ledger"


def test_posting_the_worked_invoice_writes_exactly_its_entry(customer, rep, poster):
    """Posting writes one entry dated with the invoice's date: Dr A/R 1,082.51 for the
    customer; Cr Sales 4000 1,000.00 (both lines' income account); Cr Sales Tax Payable
    2200 82.51. The invoice becomes Posted with its whole total open."""
    invoice = worked_invoice(customer, rep)

    posted = services.document_post(document=invoice, by=poster)

    entry = JournalEntry.objects.get()
    assert entry.date == DOC_DATE
    assert_entry_lines(
        entry,
        [
            (SystemRole.RECEIVABLE, customer.pk, D("1082.51"), ZERO),
            (SystemRole.SALES, None, ZERO, D("1000.00")),
            (SystemRole.SALES_TAX, None, ZERO, D("82.51")),
        ],
        with_customer=True,
    )
    assert entry.source_ref == invoice.number
    assert entry.posted_by == poster
    assert posted.status == DocumentStatus.POSTED
    assert posted.posting_entry == entry
    assert posted.posted_by == poster
    assert posted.balance_due == D("1082.51")
    assert ledger_selectors.account_balance(SystemRole.RECEIVABLE) == D("1082.51")
    assert ledger_selectors.account_balance(SystemRole.SALES_TAX) == D("-82.51")
    assert selectors.customer_ar_balance(customer) == D("1082.51")
    assert AuditEvent.objects.filter(action="invoice posted", target_ref=invoice.number).exists()
    assert_trial_balance_zero()


def test_each_line_credits_its_own_items_income_account(customer, rep, poster):
    """A line posts to its item's income account: with an item on an account the accountant
    added (4010), the PRT line credits 4000 and the other line credits 4010."""
    services_account = Account.objects.create(
        code="4010",
        name="Service Revenue",
        type=AccountType.INCOME,
        normal_side=NormalSide.CREDIT,
    )
    Item.objects.create(
        code="TRN",
        description="Training",
        income_account=services_account,
        default_unit_price=D("80.00"),
        default_tax_profile=TaxProfile.objects.get(code="STD"),
    )
    invoice = make_invoice(
        customer=customer,
        by=rep,
        lines=[line("PRT", "1", "250.00", "STD"), line("TRN", "1.5", "80.00", "STD")],
        post_by=poster,
    )

    # 250.00 + 20.63 tax; 120.00 + 9.90 tax
    assert invoice.grand_total == D("400.53")
    assert_entry_lines(
        invoice.posting_entry,
        [
            (SystemRole.RECEIVABLE, customer.pk, D("400.53"), ZERO),
            (SystemRole.SALES, None, ZERO, D("250.00")),
            ("4010", None, ZERO, D("120.00")),
            (SystemRole.SALES_TAX, None, ZERO, D("30.53")),
        ],
        with_customer=True,
    )


def test_voiding_writes_the_exact_reverse_as_a_new_entry(customer, rep, poster):
    """Voiding leaves the posting entry as it was and writes a second entry, dated the void
    date, that reverses it line for line; the invoice is Void with nothing open and every
    account it touched is back to zero."""
    invoice = worked_invoice(customer, rep, post_by=poster)
    original = invoice.posting_entry
    original_lines = entry_lines(original, with_customer=True)
    void_date = datetime.date(2026, 11, 20)

    voided = services.document_void(document=invoice, by=poster, date=void_date)

    assert JournalEntry.objects.count() == 2
    reversal = voided.void_entry
    assert reversal.pk != original.pk
    assert reversal.reversal_of == original
    assert reversal.date == void_date
    assert_entry_lines(
        reversal,
        [(code, cust, cr, dr) for code, cust, dr, cr in original_lines.elements()],
        with_customer=True,
    )
    assert_entry_lines(
        JournalEntry.objects.get(pk=original.pk), original_lines.elements(), with_customer=True
    )
    assert voided.status == DocumentStatus.VOID
    assert voided.void_date == void_date
    assert voided.voided_by == poster
    assert voided.balance_due == ZERO
    for role in (SystemRole.RECEIVABLE, SystemRole.SALES, SystemRole.SALES_TAX):
        assert ledger_selectors.account_balance(role) == ZERO
    assert ledger_selectors.account_balance(SystemRole.RECEIVABLE, as_of=void_date.replace(day=19))
    assert selectors.customer_ar_balance(customer) == ZERO
    assert_trial_balance_zero()


def test_trial_balance_stays_zero_through_posts_and_voids(rep, poster):
    """After several invoices are posted for several customers and one is voided, total
    debits equal total credits and the A/R control ties to each customer's open items."""
    first, second = CustomerFactory(), CustomerFactory()
    worked_invoice(first, rep, post_by=poster)
    make_invoice(customer=second, by=rep, lines=[line("SVC", "7", "125.00")], post_by=poster)
    doomed = make_invoice(
        customer=second, by=rep, lines=[line("PRT", "0.5", "99.99", "STD")], post_by=poster
    )
    make_invoice(customer=first, by=rep, lines=[line("SHIP", "1", "15.00")])  # stays a draft
    services.document_void(document=doomed, by=poster, date=DOC_DATE)

    assert_trial_balance_zero()
    by_customer = ledger_selectors.account_balances_by_customer(SystemRole.RECEIVABLE)
    assert by_customer == {first.pk: D("1082.51"), second.pk: D("875.00")}
    assert selectors.customer_ar_balance(first) == D("1082.51")
    assert selectors.customer_ar_balance(second) == D("875.00")


def test_a_document_posts_once_and_voids_once(customer, rep, poster):
    """Posting a posted invoice, voiding a draft and voiding twice are refused with a
    message, and write nothing more."""
    draft = make_invoice(customer=customer, by=rep)
    with pytest.raises(InvoicingError, match="cancel it instead"):
        services.document_void(document=draft, by=poster, date=DOC_DATE)

    posted = services.document_post(document=draft, by=poster)
    with pytest.raises(InvoicingError, match=f"{posted.number} is already posted"):
        services.document_post(document=posted, by=poster)

    services.document_void(document=posted, by=poster, date=DOC_DATE)
    with pytest.raises(InvoicingError, match="is already void"):
        services.document_void(document=posted, by=poster, date=DOC_DATE)
    assert JournalEntry.objects.count() == 2


def test_void_date_cannot_precede_the_invoice(customer, rep, poster):
    """A void dated before the invoice is refused and leaves it posted."""
    invoice = make_invoice(customer=customer, by=rep, post_by=poster)
    with pytest.raises(Exception, match="can't be before the document's date"):
        services.document_void(document=invoice, by=poster, date=DOC_DATE.replace(day=1))
    invoice.refresh_from_db()
    assert invoice.status == DocumentStatus.POSTED
    assert JournalEntry.objects.count() == 1


# --- through the views -----------------------------------------------------------------


def test_poster_previews_then_posts_through_the_view(customer, rep, poster_client):
    """The Post page previews the entry; POSTing it posts the invoice and says so."""
    invoice = worked_invoice(customer, rep)
    url = reverse("invoicing:post", args=[invoice.pk])

    preview = poster_client.get(url)
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "1,082.51" in html and "1,000.00" in html and "82.51" in html
    assert not JournalEntry.objects.exists(), "the preview writes nothing"

    response = poster_client.post(url, follow=True)

    assert response.redirect_chain[-1][0] == invoice.get_absolute_url()
    assert f"Invoice {invoice.number} posted." in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == DocumentStatus.POSTED
    assert JournalEntry.objects.count() == 1


def test_poster_voids_through_the_view(customer, rep, poster, poster_client):
    """POSTing a void date on the Void page voids the invoice with a reversing entry."""
    invoice = worked_invoice(customer, rep, post_by=poster)

    response = poster_client.post(
        reverse("invoicing:void", args=[invoice.pk]), {"date": "2026-11-21"}, follow=True
    )

    assert f"Invoice {invoice.number} voided." in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == DocumentStatus.VOID
    assert invoice.void_entry.reversal_of_id == invoice.posting_entry_id
    assert invoice.void_entry.date == datetime.date(2026, 11, 21)


@pytest.mark.parametrize("bad_date", ["", "11/31/2026", "2026-11-01"])
def test_void_view_refuses_a_bad_void_date(customer, rep, poster, poster_client, bad_date):
    """A missing, impossible or too-early void date is shown as an error (400) and the
    invoice stays posted with no reversal."""
    invoice = worked_invoice(customer, rep, post_by=poster)

    response = poster_client.post(reverse("invoicing:void", args=[invoice.pk]), {"date": bad_date})

    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == DocumentStatus.POSTED
    assert JournalEntry.objects.count() == 1


# --- permissions -------------------------------------------------------------------------


def test_rep_cannot_post_and_nothing_is_written(customer, rep, rep_client):
    """An A/R rep gets 403 on the Post page and on POST; no entry is written, the invoice
    stays a draft and no "posted" event is logged."""
    invoice = worked_invoice(customer, rep)
    url = reverse("invoicing:post", args=[invoice.pk])
    events = AuditEvent.objects.count()

    assert rep_client.get(url).status_code == 403
    assert rep_client.post(url).status_code == 403

    assert not JournalEntry.objects.exists()
    invoice.refresh_from_db()
    assert invoice.status == DocumentStatus.DRAFT
    assert invoice.posted_at is None
    assert AuditEvent.objects.count() == events


def test_rep_cannot_void_and_nothing_is_written(customer, rep, poster, rep_client):
    """An A/R rep gets 403 on the Void page and on POST; the invoice stays posted with only
    its posting entry."""
    invoice = worked_invoice(customer, rep, post_by=poster)
    url = reverse("invoicing:void", args=[invoice.pk])

    assert rep_client.get(url).status_code == 403
    assert rep_client.post(url, {"date": "2026-11-21"}).status_code == 403

    assert JournalEntry.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.status == DocumentStatus.POSTED
    assert invoice.void_entry is None


def test_services_refuse_a_rep_too(customer, rep):
    """The services check the role themselves, whatever view calls them."""
    invoice = worked_invoice(customer, rep)
    with pytest.raises(PermissionDenied, match="post documents"):
        services.document_post(document=invoice, by=rep)
    assert not JournalEntry.objects.exists()


def test_accountant_cannot_create_invoices(customer, accountant, client):
    """The Accountant role works in the admin: the invoice editor answers 403."""
    client.force_login(accountant)
    assert client.get(reverse("invoicing:create")).status_code == 403
    with pytest.raises(PermissionDenied):
        make_invoice(customer=customer, by=accountant)


def test_rep_sees_no_post_or_void_button(customer, rep, poster, rep_client):
    """A rep's view of a draft offers Edit but no Post; of a posted invoice, no Void."""
    draft = worked_invoice(customer, rep)
    html = rep_client.get(draft.get_absolute_url()).content.decode()
    assert reverse("invoicing:edit", args=[draft.pk]) in html
    assert reverse("invoicing:post", args=[draft.pk]) not in html

    posted = worked_invoice(customer, rep, post_by=poster)
    html = rep_client.get(posted.get_absolute_url()).content.decode()
    assert reverse("invoicing:void", args=[posted.pk]) not in html


def test_poster_sees_post_and_void_buttons(customer, rep, poster, poster_client):
    """A poster's view of a draft offers Post; of a posted invoice, Void."""
    draft = worked_invoice(customer, rep)
    html = poster_client.get(draft.get_absolute_url()).content.decode()
    assert reverse("invoicing:post", args=[draft.pk]) in html

    posted = worked_invoice(customer, rep, post_by=poster)
    html = poster_client.get(posted.get_absolute_url()).content.decode()
    assert reverse("invoicing:void", args=[posted.pk]) in html
    assert reverse("invoicing:post", args=[posted.pk]) not in html
    assert reverse("invoicing:edit", args=[posted.pk]) not in html


# --- the books-closed date ---------------------------------------------------------------


@pytest.mark.parametrize("closed_through", [DOC_DATE, datetime.date(2026, 11, 30)])
def test_posting_into_a_closed_period_is_refused(
    customer, rep, poster_client, closed_through, django_capture_on_commit_callbacks
):
    """With the books closed through the invoice's date or later, Post is refused with a
    message naming the closed date; nothing is written and the invoice stays a draft."""
    invoice = worked_invoice(customer, rep)
    close_books(closed_through)
    events = AuditEvent.objects.count()

    response = poster_client.post(reverse("invoicing:post", args=[invoice.pk]), follow=True)

    html = response.content.decode()
    assert f"The books are closed through {closed_through:%m/%d/%Y}" in html
    assert not JournalEntry.objects.exists()
    invoice.refresh_from_db()
    assert invoice.status == DocumentStatus.DRAFT
    assert invoice.balance_due == ZERO
    assert AuditEvent.objects.count() == events


def test_posting_the_day_after_the_close_is_allowed(customer, rep, poster):
    """Books closed through the day before the invoice's date don't stop it posting."""
    invoice = worked_invoice(customer, rep)
    close_books(DOC_DATE - datetime.timedelta(days=1))
    assert services.document_post(document=invoice, by=poster).is_posted


def test_service_refuses_closed_period_with_its_message(customer, rep, poster):
    """document_post raises PeriodClosed, saying which date the books are closed through."""
    invoice = worked_invoice(customer, rep)
    close_books(DOC_DATE)
    with pytest.raises(PeriodClosed) as exc:
        services.document_post(document=invoice, by=poster)
    assert exc.value.messages == [
        "The books are closed through 11/02/2026; choose a date after it (got 11/02/2026)."
    ]
    assert not JournalEntry.objects.exists()
    assert Document.objects.get(pk=invoice.pk).status == DocumentStatus.DRAFT


def test_voiding_into_a_closed_period_is_refused(customer, rep, poster, poster_client):
    """A void dated on or before the books-closed date is refused with the message; the
    invoice stays posted."""
    invoice = worked_invoice(customer, rep, post_by=poster)
    close_books(datetime.date(2026, 11, 15))

    response = poster_client.post(
        reverse("invoicing:void", args=[invoice.pk]), {"date": "2026-11-15"}
    )

    assert response.status_code == 400
    assert "The books are closed through 11/15/2026" in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == DocumentStatus.POSTED
    assert JournalEntry.objects.count() == 1
