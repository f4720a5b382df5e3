"""`manage.py check_ledger`: exits 0 when the books hold ledger/ACCOUNTING.md's invariants and 1,
naming the broken invariant, when something bypassed the services."""

import datetime
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from invoicing.models import Application, Deposit, Document, DocumentStatus
from invoicing.seeding import seed
from invoicing.services import refund_prepare
from ledger.checks import run_all, run_fast
from ledger.models import JournalEntry, JournalLine, LedgerSettings, SystemRole
from ledger.selectors import system_account
from tests.factories import (
    CustomerFactory,
    line,
    make_invoice,
    make_user,
    posted_deposit,
    posted_memo,
)
from tests.factories import (
    posted_invoice as post_invoice,
)
from tests.invoicing.books import database_guards_off

D = Decimal


def check_ledger() -> tuple[int, str]:
    """Run the command; (exit code, output)."""
    out = io.StringIO()
    try:
        call_command("check_ledger", stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def users(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return make_user("A/R rep", "rep"), make_user("Poster", "poster")


@pytest.fixture
def posted_invoice(users):
    rep, poster = users
    return make_invoice(
        customer=CustomerFactory(),
        by=rep,
        lines=[line("PRT", "3", "250.00", "STD"), line("SVC", "2", "125.00", "STD")],
        post_by=poster,
    )


def test_check_ledger_passes_on_an_empty_ledger(db):
    """With nothing posted, every invariant holds."""
    code, out = check_ledger()
    assert code == 0
    assert "All ledger checks passed." in out


def test_check_ledger_passes_on_demo_data(db):
    """The demo data (seed_demo) posts through the services, so check_ledger passes and
    reports a balanced trial balance."""
    call_command("seed_demo", stdout=io.StringIO())
    assert Document.objects.filter(status=DocumentStatus.POSTED).exists()

    code, out = check_ledger()

    assert code == 0, out
    assert "FAIL" not in out
    assert "All ledger checks passed." in out


def test_seed_demo_twice_still_passes(db):
    """seed_demo is idempotent: running it again adds nothing and the books still check."""
    call_command("seed_demo", stdout=io.StringIO())
    entries = JournalEntry.objects.count()
    call_command("seed_demo", stdout=io.StringIO())
    assert JournalEntry.objects.count() == entries
    assert check_ledger()[0] == 0


def test_corrupted_balance_due_fails_the_subledger_tie_out(db):
    """An open amount changed behind the services' back no longer ties to the A/R control
    account: check_ledger exits 1 and names invariant 2."""
    call_command("seed_demo", stdout=io.StringIO())
    # An open invoice, so one cent less stays within the range the database enforces.
    victim = (
        Document.objects.filter(status=DocumentStatus.POSTED, balance_due__gt=0)
        .order_by("pk")
        .first()
    )
    Document.objects.filter(pk=victim.pk).update(balance_due=victim.balance_due - D("0.01"))

    code, out = check_ledger()

    assert code == 1
    assert "[FAIL] invariant 2" in out
    assert f"customer {victim.customer_id}: control" in out
    assert "check(s) failed." in out


def test_open_amount_beyond_the_total_fails(posted_invoice):
    """An open amount larger than the invoice's total fails invariant 4. (The database
    refuses it, tests/ledger/test_postgres_guards.py; written here around that guard.)"""
    with database_guards_off():
        Document.objects.filter(pk=posted_invoice.pk).update(balance_due=D("5000.00"))
        code, out = check_ledger()
    assert code == 1
    assert "[FAIL] invariant 4" in out
    assert f"{posted_invoice.number}: open 5000.00 outside 0..1082.51" in out


def test_draft_carrying_an_open_amount_fails(users):
    """A draft never carries an open amount; one that does fails invariant 4."""
    rep, _ = users
    draft = make_invoice(customer=CustomerFactory(), by=rep)
    Document.objects.filter(pk=draft.pk).update(balance_due=D("100.00"))
    code, out = check_ledger()
    assert code == 1
    assert f"{draft.number}: not posted but carries an open amount" in out


def test_totals_changed_after_posting_fail(posted_invoice):
    """A posted invoice whose total no longer matches its lines and entry fails invariant 6.
    (PostgreSQL's trigger refuses the UPDATE; written here around it.)"""
    with database_guards_off():
        Document.objects.filter(pk=posted_invoice.pk).update(
            grand_total=D("2000.00"), balance_due=D("1082.51")
        )
        code, out = check_ledger()
    assert code == 1
    assert f"{posted_invoice.number}: totals no longer equal its lines" in out


class Undo(Exception):
    """Raised to roll a savepoint back."""


def test_unbalanced_entry_fails(users):
    """An entry written around journal_entry_post whose debits and credits differ fails
    invariant 1. (On PostgreSQL the deferred trigger would refuse it at commit, so it is
    written and checked inside a savepoint that is then rolled back.)"""
    _, poster = users
    with pytest.raises(Undo), transaction.atomic():
        entry = JournalEntry.objects.create(
            date=datetime.date(2026, 11, 2),
            memo="by hand",
            posted_by=poster,
            posted_at=timezone.now(),
        )
        JournalLine.objects.create(
            entry=entry, account=system_account(SystemRole.BANK), debit=D("100.00")
        )
        JournalLine.objects.create(
            entry=entry, account=system_account(SystemRole.SALES), credit=D("90.00")
        )

        code, out = check_ledger()
        raise Undo

    assert code == 1
    assert "[FAIL] invariant 1" in out
    assert f"{entry.number}: debits 100.00 != credits 90.00" in out
    assert "trial balance debits and credits differ" in out
    assert check_ledger()[0] == 0


def test_reversal_that_isnt_the_exact_reverse_fails(posted_invoice, users):
    """A "reversal" that doesn't mirror its original line for line fails invariant 6."""
    _, poster = users
    fake = JournalEntry.objects.create(
        date=datetime.date(2026, 11, 3),
        memo="not quite a reversal",
        reversal_of=posted_invoice.posting_entry,
        posted_by=poster,
        posted_at=timezone.now(),
    )
    JournalLine.objects.create(
        entry=fake, account=system_account(SystemRole.SALES), debit=D("1082.51")
    )
    JournalLine.objects.create(
        entry=fake,
        account=system_account(SystemRole.RECEIVABLE),
        customer=posted_invoice.customer,
        credit=D("1082.51"),
    )

    code, out = check_ledger()

    assert code == 1
    assert f"{fake.number} is not the exact reverse of {posted_invoice.posting_entry.number}" in out


def test_entry_posted_into_the_closed_period_fails(users):
    """An entry dated on or before the books-closed date but written after the close fails
    invariant 7."""
    _, poster = users
    settings_row = LedgerSettings.load()
    settings_row.books_closed_through = datetime.date(2026, 10, 31)
    settings_row.save()
    late = JournalEntry.objects.create(
        date=datetime.date(2026, 10, 15),
        memo="backdated",
        source_ref="X-1",
        posted_by=poster,
        posted_at=timezone.now() + datetime.timedelta(minutes=5),
    )

    code, out = check_ledger()

    assert code == 1
    assert "[FAIL] invariant 7" in out
    assert f"{late.number} dated 2026-10-15 was posted after the close" in out


# --- what the SQL checks must still catch (each once broken behind the services' back) ----


def check_ledger_fast() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("check_ledger", "--fast", stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def _entry(poster, *legs, **fields):
    """A balanced entry written by hand: legs are (role, debit, credit, customer)."""
    entry = JournalEntry.objects.create(
        date=datetime.date(2026, 11, 2),
        memo="by hand",
        posted_by=poster,
        posted_at=timezone.now(),
        **fields,
    )
    for role, debit, credit, customer in legs:
        JournalLine.objects.create(
            entry=entry,
            account=system_account(role),
            debit=D(debit),
            credit=D(credit),
            customer=customer,
        )
    return entry


def test_receivable_line_without_a_customer_fails(users):
    """An A/R line that names no customer fails invariant 2, in the full and the fast check."""
    _, poster = users
    _entry(
        poster, (SystemRole.RECEIVABLE, "50.00", "0", None), (SystemRole.SALES, "0", "50.00", None)
    )
    code, out = check_ledger()
    assert code == 1
    assert "A/R lines without a customer: 50.00" in out
    assert "A/R control total differs from the subledger total" in out
    code, out = check_ledger_fast()
    assert code == 1
    assert "[FAIL] invariant 2" in out


def test_entry_without_lines_or_source_fails(users):
    """An entry with no lines that no document wrote fails invariant 6."""
    _, poster = users
    empty = _entry(poster)
    code, out = check_ledger()
    assert code == 1
    assert f"{empty.number} has no lines and no source document" in out


def test_posting_entry_that_moved_ar_by_another_amount_fails(posted_invoice, users):
    """A posted invoice whose entry moved A/R by something other than its total fails
    invariant 6 (written around the database's guard)."""
    _, poster = users
    other = _entry(
        poster,
        (SystemRole.RECEIVABLE, "10.00", "0", posted_invoice.customer),
        (SystemRole.SALES, "0", "10.00", None),
        source_ref=posted_invoice.number,
    )
    with database_guards_off():
        Document.objects.filter(pk=posted_invoice.pk).update(posting_entry=other)
        code, out = check_ledger()
    assert code == 1
    assert f"{posted_invoice.number}: its entry moved A/R by 10.00, not 1,082.51" in out


def test_applications_that_dont_pair_fail(users):
    """Applications across customers, between two invoices, or in force on a draft fail
    invariant 4 (and the open amounts no longer recompute)."""
    rep, poster = users
    one, two = CustomerFactory(), CustomerFactory()
    invoice = post_invoice(one, "100.00", by=rep, post_by=poster)
    other_invoice = post_invoice(one, "80.00", by=rep, post_by=poster)
    memo = posted_memo(two, "-30.00", by=rep, post_by=poster)
    draft = make_invoice(customer=one, by=rep)
    day = datetime.date(2026, 11, 12)
    made = {"customer": one, "date": day, "created_by": rep, "amount": D("5.00")}
    across = Application.objects.create(target=invoice, source=memo, **made)
    same_sign = Application.objects.create(target=invoice, source=other_invoice, **made)
    on_draft = Application.objects.create(target=draft, source=memo, **made)

    code, out = check_ledger()

    assert code == 1
    assert f"application {across.pk} pairs documents of different customers" in out
    assert f"application {same_sign.pk} doesn't pair a positive and a negative item" in out
    assert f"application {on_draft.pk} is in force on a document that isn't posted" in out
    assert f"{invoice.number}: stored open 100.00 but total less applications is 90.00" in out


def test_reservations_that_dont_match_pending_refunds_fail(users):
    """A credit reserving what no pending refund holds, a pending refund whose credit
    reserves nothing, and a reservation beyond the open credit each fail invariant 4."""
    rep, poster = users
    customer = CustomerFactory()
    idle = posted_memo(customer, "-100.00", by=rep, post_by=poster)
    held = posted_memo(customer, "-60.00", by=rep, post_by=poster)
    refund_prepare(
        document=held, by=rep, amount=D("40.00"), method="check", date=datetime.date(2026, 11, 12)
    )
    Document.objects.filter(pk=idle.pk).update(reserved=D("30.00"))
    Document.objects.filter(pk=held.pk).update(reserved=D("0.00"))
    code, out = check_ledger()
    assert code == 1
    assert f"{idle.number}: reserves 30.00 but pending refunds total 0.00" in out
    assert f"{held.number}: reserves 0.00 but pending refunds total 40.00" in out

    with database_guards_off():
        Document.objects.filter(pk=held.pk).update(reserved=D("70.00"))
        code, out = check_ledger()
    assert f"{held.number}: reserves 70.00 but pending refunds total 40.00" in out
    assert f"{held.number}: reserves 70.00, more than its open credit" in out


def test_deposit_out_of_tie_fails_per_customer_and_per_deposit(users):
    """A deposit whose remaining or reserved was changed fails invariant 3: per customer,
    per deposit, and in the fast check's totals."""
    rep, poster = users
    customer = CustomerFactory()
    deposit = posted_deposit(customer, "100.00", by=rep, post_by=poster)
    Deposit.objects.filter(pk=deposit.pk).update(remaining=D("90.00"), reserved=D("10.00"))
    code, out = check_ledger()
    assert code == 1
    assert f"customer {customer.pk}: Customer Deposits 100.00 != unused deposits 90.00" in out
    assert f"{deposit.number}: remaining 90.00 but amount less used and refunded is 100.00" in out
    assert f"{deposit.number}: reserves 10.00 but pending refunds total 0.00" in out
    code, out = check_ledger_fast()
    assert code == 1
    assert "[FAIL] invariant 3" in out
    assert "Customer Deposits total differs from the unused deposits" in out


def test_deposits_line_without_a_customer_fails(users):
    _, poster = users
    _entry(poster, (SystemRole.BANK, "5.00", "0", None), (SystemRole.DEPOSITS, "0", "5.00", None))
    code, out = check_ledger()
    assert code == 1
    assert "Customer Deposits lines without a customer: 5.00" in out


def test_fast_check_passes_on_sound_books_and_catches_an_open_amount(db):
    """`check_ledger --fast` ties the totals out on sound books and fails when an open
    amount no longer ties to the A/R control account."""
    seed(invoices=30, customers=4, rng_seed=5)
    code, out = check_ledger_fast()
    assert code == 0, out
    assert "All fast ledger checks passed." in out
    victim = Document.objects.filter(status=DocumentStatus.POSTED, balance_due__gt=0).first()
    Document.objects.filter(pk=victim.pk).update(balance_due=victim.balance_due - D("0.01"))
    code, out = check_ledger_fast()
    assert code == 1
    assert "A/R control total differs from the subledger total" in out


def _queries(run) -> int:
    run()  # warm caches (content types, the settings row)
    with CaptureQueriesContext(connection) as ctx:
        results = run()
    assert all(r.ok for r in results), [p for r in results for p in r.problems]
    return len(ctx.captured_queries)


def test_query_counts_are_constant_in_the_number_of_documents(db):
    """The full and the fast check cost the same number of queries at 10 invoices as at
    200 (every check is aggregates returning only mismatches), the fast one only a few."""
    seed(invoices=10, customers=3, rng_seed=7)
    small_full, small_fast = _queries(run_all), _queries(run_fast)
    seed(invoices=200, customers=20, rng_seed=8)
    assert _queries(run_all) == small_full
    assert _queries(run_fast) == small_fast
    assert small_fast <= 3
