"""`manage.py check_ledger`: exits 0 when the books hold ledger/ACCOUNTING.md's invariants and 1,
naming the broken invariant, when something bypassed the services."""

import datetime
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from invoicing.models import Document, DocumentStatus
from ledger.models import JournalEntry, JournalLine, LedgerSettings, SystemRole
from ledger.selectors import system_account
from tests.factories import CustomerFactory, line, make_invoice, make_user
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
