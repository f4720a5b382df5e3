"""Issue 10, finding 12: business dates. 9999-12-31 answered 500 on the invoice and credit
memo forms (the due date overflowed), and 0001-01-01 and 9999-12-31 were accepted and
posted everywhere else. A document, application, refund or void is dated after the
books-closed date and no later than today + the horizon (ledger/ACCOUNTING.md): every form says
so next to its date field (400, never 500), and every service refuses it."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from invoicing import services
from invoicing.models import (
    Application,
    Deposit,
    DepositApplication,
    DepositRefund,
    Document,
    DocumentKind,
    DocumentStatus,
    Item,
    TaxProfile,
)
from ledger.models import JournalEntry, LedgerSettings
from tests.factories import line, make_invoice, posted_deposit, posted_invoice, posted_memo
from tests.helpers import first_line
from tests.invoicing.books import books_stay_balanced, fast_password_hashing  # noqa: F401

pytestmark = pytest.mark.usefixtures("fast_password_hashing", "books_stay_balanced")
D = Decimal
DAY = datetime.date(2026, 11, 10)
FIRST, LAST = datetime.date(1, 1, 1), datetime.date(9999, 12, 31)
OUT_OF_RANGE = ["0001-01-01", "9999-12-31"]


def too_early_or_late(html: str) -> bool:
    return "can&#x27;t be before 01/01/2000" in html or "can&#x27;t be later than" in html


def date_error_shown(response) -> bool:
    html = response.content.decode()
    return response.status_code == 400 and too_early_or_late(html)


# --- forms: a message next to the date, status 400, never 500 -------------------------------


def editor_data(customer, date):
    return {
        "customer": str(customer.pk),
        "date": date,
        "billing_terms": "",
        "description": "",
        "reason": "return",
        "note": "",
        "action": "save",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-item": str(Item.objects.get(code="SVC").pk),
        "lines-0-quantity": "1",
        "lines-0-unit_price": "10.00",
        "lines-0-tax_profile": str(TaxProfile.objects.get(code="OUT").pk),
    }


@pytest.mark.parametrize("date", OUT_OF_RANGE)
@pytest.mark.parametrize("url_name", ["invoicing:create", "invoicing:create_credit_memo"])
def test_invoice_and_credit_memo_editors_refuse_out_of_range_dates(
    rep_client, customer, url_name, date
):
    """9999-12-31 used to overflow the due date (500)."""
    response = rep_client.post(reverse(url_name), editor_data(customer, date))
    assert date_error_shown(response)
    assert 'id="id_date_error"' in response.content.decode()
    assert not Document.objects.exists()


@pytest.mark.parametrize("date", OUT_OF_RANGE)
def test_editing_a_draft_refuses_out_of_range_dates(rep_client, rep, customer, date):
    draft = make_invoice(customer=customer, by=rep)
    response = rep_client.post(
        reverse("invoicing:edit", args=[draft.pk]), editor_data(customer, date)
    )
    assert date_error_shown(response)
    assert Document.objects.get(pk=draft.pk).date == datetime.date(2026, 11, 2)


@pytest.mark.parametrize("date", OUT_OF_RANGE)
def test_credit_from_invoice_refuses_out_of_range_dates(rep_client, rep, poster, customer, date):
    inv = posted_invoice(customer, "50.00", by=rep, post_by=poster)
    ln = first_line(inv)
    response = rep_client.post(
        reverse("invoicing:credit_from_invoice", args=[inv.pk]),
        {"reason": "return", "date": date, f"include_{ln.pk}": "on", f"qty_{ln.pk}": "1"},
    )
    assert date_error_shown(response)
    assert 'id="id_date_error"' in response.content.decode()
    assert not Document.objects.filter(kind=DocumentKind.CREDIT_MEMO).exists()


@pytest.mark.parametrize("date", OUT_OF_RANGE)
def test_apply_credit_refuses_out_of_range_dates(rep_client, rep, poster, customer, date):
    memo = posted_memo(customer, "-100.00", by=rep, post_by=poster, reason="goodwill")
    inv = posted_invoice(customer, "50.00", by=rep, post_by=poster)
    response = rep_client.post(
        reverse("invoicing:apply", args=[memo.pk]),
        {"date": date, "key": "k-1", "action": "apply", f"amount_{inv.pk}": "10.00"},
    )
    assert date_error_shown(response)
    assert not Application.objects.exists()


@pytest.mark.parametrize("date", OUT_OF_RANGE)
def test_record_payment_refuses_out_of_range_dates(client, rep, customer, date):
    client.force_login(rep)
    response = client.post(
        reverse("payments:create") + f"?customer={customer.pk}",
        {"amount": "50.00", "method": "check", "date": date, "key": "p", "action": "save"},
    )
    assert date_error_shown(response)
    assert not Document.objects.filter(kind=DocumentKind.PAYMENT).exists()


@pytest.mark.parametrize("date", OUT_OF_RANGE)
def test_payment_on_an_invoice_refuses_out_of_range_dates(client, rep, poster, customer, date):
    inv = posted_invoice(customer, "50.00", by=rep, post_by=poster)
    client.force_login(rep)
    response = client.post(
        reverse("invoicing:payment_or_refund", args=[inv.pk]),
        {
            "type": "payment",
            "amount": "10.00",
            "method": "check",
            "date": date,
            "key": "p",
            "action": "save",
        },
    )
    assert date_error_shown(response)
    assert not Document.objects.filter(kind=DocumentKind.PAYMENT).exists()


@pytest.mark.parametrize("date", OUT_OF_RANGE)
def test_refund_refuses_out_of_range_dates(client, rep, poster, customer, date):
    memo = posted_memo(customer, "-100.00", by=rep, post_by=poster, reason="goodwill")
    client.force_login(rep)
    response = client.post(
        reverse("invoicing:payment_or_refund", args=[memo.pk]),
        {
            "type": "refund",
            "method": "check",
            "amount": "10.00",
            "reference": "",
            "date": date,
            "memo": "",
            "key": "r",
            "action": "save",
        },
    )
    assert date_error_shown(response)
    assert not Document.objects.filter(kind=DocumentKind.REFUND).exists()


@pytest.mark.parametrize("date", OUT_OF_RANGE)
def test_deposit_refuses_out_of_range_dates(client, rep, customer, date):
    client.force_login(rep)
    response = client.post(
        reverse("deposits:create") + f"?customer={customer.pk}",
        {"amount": "10.00", "method": "check", "date": date, "key": "d"},
    )
    assert date_error_shown(response)
    assert 'id="id_date_error"' in response.content.decode()
    assert not Deposit.objects.exists()


@pytest.mark.parametrize("date", OUT_OF_RANGE)
def test_deposit_refund_refuses_out_of_range_dates(client, rep, poster, customer, date):
    deposit = posted_deposit(customer, "100.00", by=rep, post_by=poster)
    client.force_login(rep)
    response = client.post(
        reverse("deposits:refund", args=[deposit.pk]),
        {"method": "check", "amount": "10.00", "date": date, "key": "k", "action": "save"},
    )
    assert date_error_shown(response)
    assert not DepositRefund.objects.exists()


@pytest.mark.parametrize("date", OUT_OF_RANGE)
def test_apply_deposit_refuses_out_of_range_dates(client, rep, poster, customer, date):
    deposit = posted_deposit(customer, "100.00", by=rep, post_by=poster)
    inv = posted_invoice(customer, "50.00", by=rep, post_by=poster)
    client.force_login(rep)
    response = client.post(
        reverse("invoicing:apply_deposit", args=[inv.pk]),
        {"deposit": deposit.pk, "amount": "10.00", "date": date, "key": "ad"},
    )
    assert date_error_shown(response)
    assert not DepositApplication.objects.exists()


@pytest.mark.parametrize("date", OUT_OF_RANGE)
def test_void_refuses_out_of_range_dates(client, rep, poster, customer, date):
    """Voids used to be posted dated 9999-12-31."""
    inv = posted_invoice(customer, "50.00", by=rep, post_by=poster)
    entries = JournalEntry.objects.count()
    client.force_login(poster)
    response = client.post(reverse("invoicing:void", args=[inv.pk]), {"date": date})
    assert date_error_shown(response)
    assert Document.objects.get(pk=inv.pk).status == DocumentStatus.POSTED
    assert JournalEntry.objects.count() == entries


def test_a_closed_date_gets_the_books_closed_message_next_to_the_field(client, rep, customer):
    row = LedgerSettings.load()
    row.books_closed_through = datetime.date(2026, 11, 5)
    row.save()
    client.force_login(rep)
    response = client.post(
        reverse("deposits:create") + f"?customer={customer.pk}",
        {"amount": "10.00", "method": "check", "date": "2026-11-05", "key": "d"},
    )
    assert response.status_code == 400
    assert "The books are closed through 11/05/2026" in response.content.decode()
    assert not Deposit.objects.exists()


# --- services: refused with ValidationError, nothing written --------------------------------


@pytest.mark.parametrize("date", [FIRST, LAST])
def test_document_services_refuse_out_of_range_dates(customer, rep, poster, date):
    with pytest.raises(ValidationError) as exc:
        services.document_create(customer=customer, date=date, lines=[line()], by=rep)
    assert "date" in exc.value.message_dict
    draft = make_invoice(customer=customer, by=rep)
    with pytest.raises(ValidationError):
        services.document_update_draft(document=draft, date=date, lines=[line()], by=rep)
    inv = posted_invoice(customer, "50.00", by=rep, post_by=poster)
    with pytest.raises(ValidationError):
        services.credit_memo_create_from_invoice(
            invoice=inv,
            quantities={first_line(inv).pk: D("1")},
            reason="return",
            by=rep,
            date=date,
        )
    with pytest.raises(ValidationError):
        services.document_void(document=inv, by=poster, date=date)
    assert Document.objects.get(pk=inv.pk).status == DocumentStatus.POSTED
    assert Document.objects.get(pk=draft.pk).date == datetime.date(2026, 11, 2)
    assert Document.objects.count() == 2


@pytest.mark.parametrize("date", [FIRST, LAST])
def test_money_services_refuse_out_of_range_dates(customer, rep, poster, date):
    memo = posted_memo(customer, "-100.00", by=rep, post_by=poster, reason="goodwill")
    inv = posted_invoice(customer, "50.00", by=rep, post_by=poster)
    deposit = posted_deposit(customer, "100.00", by=rep, post_by=poster)
    documents, entries = Document.objects.count(), JournalEntry.objects.count()
    with pytest.raises(ValidationError):
        services.payment_record(
            customer=customer, date=date, method="check", amount=D("10.00"), by=rep
        )
    with pytest.raises(ValidationError):
        services.refund_prepare(document=memo, amount=D("10.00"), method="check", date=date, by=rep)
    with pytest.raises(ValidationError):
        services.credit_apply(
            source=memo,
            allocations=[services.Allocation(document=inv, amount=D("10.00"))],
            by=rep,
            date=date,
        )
    with pytest.raises(ValidationError):
        services.deposit_record(
            customer=customer, date=date, method="check", amount=D("10.00"), by=rep
        )
    with pytest.raises(ValidationError):
        services.deposit_apply(deposit=deposit, invoice=inv, amount=D("10.00"), by=rep, date=date)
    with pytest.raises(ValidationError):
        services.deposit_refund_prepare(
            deposit=deposit, amount=D("10.00"), method="check", date=date, by=rep
        )
    assert (Document.objects.count(), JournalEntry.objects.count()) == (documents, entries)
    assert not Application.objects.exists() and not DepositApplication.objects.exists()
    assert not DepositRefund.objects.exists() and Deposit.objects.count() == 1


@pytest.mark.parametrize("date", [FIRST, LAST])
def test_refund_release_refuses_out_of_range_dates(customer, rep, poster, date):
    memo = posted_memo(customer, "-100.00", by=rep, post_by=poster, reason="goodwill")
    refund = services.refund_prepare(
        document=memo, amount=D("10.00"), method="check", date=DAY, by=rep
    )
    with pytest.raises(ValidationError, match="The release date can't be (before|later)"):
        services.refund_release(refund=refund, by=poster, date=date)
    assert Document.objects.get(pk=refund.pk).status == DocumentStatus.DRAFT


def test_documents_dated_within_the_horizon_are_fine(customer, rep, poster, settings):
    settings.BUSINESS_DATE_HORIZON_DAYS = 30
    soon = timezone.localdate() + datetime.timedelta(days=30)
    inv = make_invoice(customer=customer, by=rep, post_by=poster, date=soon)
    assert inv.is_posted and inv.posting_entry.date == soon
    with pytest.raises(ValidationError, match="30 days from today"):
        make_invoice(customer=customer, by=rep, date=soon + datetime.timedelta(days=1))
