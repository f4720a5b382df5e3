"""The database guards the books, whoever bypasses the services.

On PostgreSQL (migrations ledger/0003, ledger/0007, invoicing/0009): a deferred constraint
trigger rejects an unbalanced journal entry at commit; triggers reject any UPDATE or
DELETE of journal lines and entries, a line added to an entry an earlier transaction
wrote, any change to a posted document's lines, totals or identity, and any UPDATE or
DELETE of an audit event. On every database (invoicing/0009): CheckConstraints keep a
document's open amount within its sign-aware range and its reservation within its open
credit.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from ledger.models import JournalEntry, JournalLine, SystemRole
from ledger.selectors import system_account
from tests.factories import CustomerFactory, line, make_invoice, make_user
from tests.invoicing.books import reference_data  # noqa: F401

D = Decimal

pytestmark = [
    # Real commits: deferred triggers fire only when a transaction commits.
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("reference_data"),
]


@pytest.fixture
def poster(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return make_user("Poster", "poster")


@pytest.fixture
def posted_invoice(poster):
    return make_invoice(
        customer=CustomerFactory(),
        by=poster,
        lines=[line("PRT", "3", "250.00", "STD")],
        post_by=poster,
    )


def account_id(role: str) -> int:
    return system_account(role).pk


def insert_entry_sql(cursor, *, user_id: int, legs: list[tuple[str, str, str]]) -> int:
    """Write an entry and its lines with raw SQL, as a careless script would."""
    cursor.execute(
        "INSERT INTO ledger_journalentry (date, memo, source_ref, posted_by_id, posted_at) "
        "VALUES (%s, 'raw SQL', '', %s, now()) RETURNING id",
        [datetime.date(2026, 11, 2), user_id],
    )
    entry_id = cursor.fetchone()[0]
    for role, debit, credit in legs:
        cursor.execute(
            "INSERT INTO ledger_journalline (entry_id, account_id, debit, credit, memo) "
            "VALUES (%s, %s, %s, %s, '')",
            [entry_id, account_id(role), D(debit), D(credit)],
        )
    return entry_id


@pytest.mark.postgres
def test_unbalanced_raw_sql_entry_fails_at_commit(poster):
    """Raw SQL writing an entry with Dr 100.00 and Cr 90.00 is accepted statement by
    statement but refused when the transaction commits; nothing is kept."""
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        with connection.cursor() as cursor:
            insert_entry_sql(
                cursor,
                user_id=poster.pk,
                legs=[(SystemRole.BANK, "100.00", "0"), (SystemRole.SALES, "0", "90.00")],
            )
        # Still inside the transaction: the check is deferred to commit.
        assert JournalLine.objects.count() == 2

    assert not JournalEntry.objects.exists()
    assert not JournalLine.objects.exists()


@pytest.mark.postgres
def test_one_sided_raw_sql_entry_fails_at_commit(poster):
    """A single debit line with no credit is refused at commit too."""
    with (
        pytest.raises(IntegrityError, match="unbalanced"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        insert_entry_sql(cursor, user_id=poster.pk, legs=[(SystemRole.BANK, "0.01", "0")])
    assert not JournalLine.objects.exists()


@pytest.mark.postgres
def test_balanced_raw_sql_entry_commits(poster):
    """The trigger checks at commit, not per row: a balanced entry inserted one line at a
    time (unbalanced after its first line) commits."""
    with transaction.atomic(), connection.cursor() as cursor:
        entry_id = insert_entry_sql(
            cursor,
            user_id=poster.pk,
            legs=[
                (SystemRole.BANK, "100.00", "0"),
                (SystemRole.SALES, "0", "92.00"),
                (SystemRole.SALES_TAX, "0", "8.00"),
            ],
        )
    assert JournalLine.objects.filter(entry_id=entry_id).count() == 3


@pytest.mark.postgres
def test_unbalanced_orm_entry_fails_at_commit(poster):
    """The guard doesn't depend on how the rows are written: ORM inserts that bypass
    journal_entry_post are refused at commit as well."""
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        entry = JournalEntry.objects.create(
            date=datetime.date(2026, 11, 2),
            memo="ORM",
            posted_by=poster,
            posted_at=datetime.datetime(2026, 11, 2, tzinfo=datetime.UTC),
        )
        JournalLine.objects.create(
            entry=entry, account=system_account(SystemRole.BANK), debit=D("5.00")
        )
    assert not JournalEntry.objects.exists()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_journalline SET debit = debit + 1 WHERE id = %s",
        "UPDATE ledger_journalline SET memo = 'edited' WHERE id = %s",
        "DELETE FROM ledger_journalline WHERE id = %s",
    ],
    ids=["update-amount", "update-memo", "delete"],
)
@pytest.mark.postgres
def test_posted_journal_line_cannot_be_changed_by_raw_sql(posted_invoice, statement):
    """UPDATE or DELETE of a posted journal line fails with the trigger's message, and the
    line is left exactly as it was."""
    target = posted_invoice.posting_entry.lines.order_by("pk").first()
    before = JournalLine.objects.filter(pk=target.pk).values().get()

    with (
        pytest.raises(DatabaseError, match="posted journal entries never change"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [target.pk])

    assert JournalLine.objects.filter(pk=target.pk).values().get() == before
    assert posted_invoice.posting_entry.lines.count() == 3


@pytest.mark.postgres
def test_posted_journal_lines_cannot_be_changed_through_the_orm(posted_invoice):
    """The ORM's update() and delete() hit the same triggers."""
    lines = JournalLine.objects.filter(entry=posted_invoice.posting_entry)
    with (
        pytest.raises(DatabaseError, match="UPDATE on ledger_journalline is not allowed"),
        transaction.atomic(),
    ):
        lines.update(memo="edited")
    with (
        pytest.raises(DatabaseError, match="DELETE on ledger_journalline is not allowed"),
        transaction.atomic(),
    ):
        lines.delete()
    assert lines.count() == 3
    assert not lines.filter(memo="edited").exists()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_journalentry SET date = date - 1 WHERE id = %s",
        "DELETE FROM ledger_journalentry WHERE id = %s",
    ],
    ids=["update", "delete"],
)
@pytest.mark.postgres
def test_posted_journal_entry_cannot_be_changed(posted_invoice, statement):
    """UPDATE or DELETE of a journal entry's row fails too."""
    entry = posted_invoice.posting_entry
    with (
        pytest.raises(DatabaseError, match="on ledger_journalentry is not allowed"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [entry.pk])
    assert JournalEntry.objects.get(pk=entry.pk).date == entry.date


@pytest.mark.postgres
def test_services_still_post_and_void_under_the_triggers(posted_invoice, poster):
    """Posting and voiding through the services commit under the triggers: the void is a
    new reversing entry, not an edit."""
    from invoicing.services import document_void

    voided = document_void(document=posted_invoice, by=poster, date=datetime.date(2026, 11, 20))
    assert voided.void_entry.reversal_of_id == posted_invoice.posting_entry_id
    assert JournalEntry.objects.count() == 2
