"""Invoicing under concurrency (PostgreSQL, real threads and commits): the number sequence
row and the document row are locked, so simultaneous creators get distinct consecutive
numbers and simultaneous posters post a document once."""

import datetime
import threading
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from invoicing import services
from invoicing.models import Document, DocumentKind, DocumentSequence, DocumentStatus
from ledger.models import JournalEntry
from tests.factories import CustomerFactory, line, make_invoice, make_user
from tests.invoicing.books import ledger_problems, reference_data  # noqa: F401

THREADS = 20

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("reference_data"),
]


def run_at_once(target, args_list) -> None:
    """Start one thread per args tuple, release them together, wait for all. Each thread
    closes its own database connection when done."""
    barrier = threading.Barrier(len(args_list))

    def run(*args):
        try:
            barrier.wait(timeout=30)
            target(*args)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=args) for args in args_list]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"


def test_twenty_simultaneous_invoices_get_twenty_consecutive_numbers(settings):
    """20 threads calling document_create at the same moment each get their own number, and
    together they use exactly 20 consecutive numbers: no duplicates, no gaps."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    rep = make_user("A/R rep", "rep")
    customer = CustomerFactory()
    start = DocumentSequence.objects.get(kind=DocumentKind.INVOICE).last_number
    lines = [line("PRT", "1", "250.00", "STD")]
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def create():
        try:
            doc = services.document_create(
                customer=customer, date=datetime.date(2026, 11, 2), lines=lines, by=rep
            )
            with lock:
                numbers.append(doc.number)
        except BaseException as exc:  # reported below, with the thread's error
            with lock:
                errors.append(exc)

    run_at_once(create, [()] * THREADS)

    assert not errors, errors
    assert len(numbers) == THREADS
    assert len(set(numbers)) == THREADS
    assert sorted(numbers) == [f"INV-{n:06d}" for n in range(start + 1, start + THREADS + 1)]
    assert Document.objects.filter(customer=customer).count() == THREADS
    assert DocumentSequence.objects.get(kind=DocumentKind.INVOICE).last_number == start + THREADS
    assert not ledger_problems()


def test_ten_posters_posting_one_invoice_at_once_post_it_once(settings):
    """10 posters pressing Post on the same draft at the same moment: one posts it, the
    others are told it is already posted; one journal entry is written."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    posters = [make_user("Poster", f"poster{n}") for n in range(10)]
    invoice = make_invoice(
        customer=CustomerFactory(), by=posters[0], lines=[line("PRT", "2", "250.00", "STD")]
    )
    outcomes: list[str] = []
    lock = threading.Lock()

    def post(poster):
        try:
            services.document_post(document=invoice, by=poster)
            outcome = "posted"
        except ValidationError as exc:
            outcome = " ".join(exc.messages)
        with lock:
            outcomes.append(outcome)

    run_at_once(post, [(p,) for p in posters])

    assert sorted(outcomes) == sorted(["posted"] + [f"{invoice.number} is already posted."] * 9)
    assert JournalEntry.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.status == DocumentStatus.POSTED
    assert invoice.balance_due == invoice.grand_total == D("541.25")
    assert not ledger_problems()
