"""`manage.py seed_bench` (invoicing.seeding): a bulk data set that keeps the books' rules —
check_ledger passes on it, counts are as reported, numbering continues after it through the
services, and one customer can be given K open invoices."""

import io

import pytest
from django.core.management import call_command
from django.db.models import Count, F
from django.utils import timezone

from customers.models import Customer
from invoicing.models import (
    Application,
    Deposit,
    DepositApplication,
    Document,
    DocumentKind,
    DocumentSequence,
    DocumentStatus,
)
from invoicing.seeding import seed
from invoicing.selectors import open_credits, open_invoices
from ledger.models import JournalEntry, JournalLine
from tests.factories import line, make_invoice, make_user


def check_ledger() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("check_ledger", stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def seeded(db):
    return seed(invoices=300, customers=12, open_invoices_for_one=7, rng_seed=3, chunk=120)


def test_check_ledger_passes_on_the_seeded_books(seeded):
    """Every invariant holds on the bulk-written data, with every kind of document in it."""
    code, out = check_ledger()
    assert code == 0, out
    assert "All ledger checks passed." in out
    assert seeded.credit_memos and seeded.payments and seeded.refunds and seeded.deposits
    assert seeded.drafts and seeded.voids and seeded.applications
    assert seeded.deposit_applications


def test_counts_are_as_reported(seeded):
    """The report counts what is in the database: customers, documents by kind, entries."""
    assert Customer.objects.count() == seeded.customers == 13
    kinds = dict(Document.objects.values_list("kind").annotate(n=Count("id")))
    assert kinds[DocumentKind.INVOICE] == seeded.invoices == 300 + 7
    assert kinds[DocumentKind.CREDIT_MEMO] == seeded.credit_memos
    assert kinds[DocumentKind.PAYMENT] == seeded.payments
    assert kinds[DocumentKind.REFUND] == seeded.refunds
    assert Deposit.objects.count() == seeded.deposits
    assert Application.objects.count() == seeded.applications
    assert DepositApplication.objects.count() == seeded.deposit_applications
    assert JournalEntry.objects.count() == seeded.entries
    assert JournalLine.objects.count() == seeded.journal_lines
    assert seeded.documents == Document.objects.count() + Deposit.objects.count()


def test_documents_look_as_the_services_leave_them(seeded):
    """Posted documents have their entry; drafts have none and no open amount; voids of
    posted documents have a reversal; applications pair posted documents of one customer."""
    posted = Document.objects.filter(status=DocumentStatus.POSTED)
    assert not posted.filter(posting_entry=None).exists()
    drafts = Document.objects.filter(status=DocumentStatus.DRAFT)
    assert drafts.exists()
    assert not drafts.exclude(posting_entry=None).exists()
    assert not drafts.exclude(balance_due=0).exists()
    voided = Document.objects.filter(status=DocumentStatus.VOID).exclude(posting_entry=None)
    assert voided.exists()
    assert not voided.filter(void_entry=None).exists()
    assert not voided.exclude(balance_due=0).exists()
    for entry in JournalEntry.objects.filter(reversal_of__isnull=False)[:5]:
        assert entry.reversal_of.source_ref == entry.source_ref
    apps = Application.objects.filter(removed_at__isnull=True)
    assert not apps.exclude(
        target__status=DocumentStatus.POSTED, source__status=DocumentStatus.POSTED
    ).exists()
    assert not apps.exclude(target__customer=F("customer"), source__customer=F("customer")).exists()


def test_numbering_continues_through_the_services(seeded):
    """The sequences were advanced: the next invoice made by the services gets the next
    number, and nothing was numbered twice."""
    seq = DocumentSequence.objects.get(kind=DocumentKind.INVOICE)
    assert seq.last_number == seeded.invoices
    rep = make_user("A/R rep", "rep")
    customer = Customer.objects.first()
    invoice = make_invoice(customer=customer, by=rep, lines=[line()], date=timezone.localdate())
    assert invoice.number == f"INV-{seeded.invoices + 1:06d}"
    payments = DocumentSequence.objects.get(kind=DocumentKind.PAYMENT)
    assert payments.last_number == seeded.payments


def test_one_customer_has_the_open_invoices_asked_for(seeded):
    """--open-for-one K: one customer with exactly K open posted invoices and one open
    credit to apply to them."""
    customer = Customer.objects.get(pk=seeded.open_for_one_customer_id)
    assert open_invoices(customer).count() == 7
    credits = list(open_credits(customer))
    assert [c.pk for c in credits] == [seeded.open_for_one_credit_id]


def test_seed_bench_command_prints_counts_and_time(db):
    """The command is a thin wrapper: it seeds and prints what it wrote and how long it took."""
    out = io.StringIO()
    call_command("seed_bench", "--invoices", "20", "--customers", "3", stdout=out)
    text = out.getvalue()
    assert "20 invoices" in text and "3 customers" in text
    assert "seeded in" in text
    assert Document.objects.filter(kind=DocumentKind.INVOICE).count() == 20
    code, output = check_ledger()
    assert code == 0, output
