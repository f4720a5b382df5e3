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


# --- issue 10, item 8: lines only into a new entry; posted documents; the audit trail -------


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - a test's own table name
        return cursor.fetchone()[0]


@pytest.mark.postgres
def test_a_line_into_an_entry_written_earlier_is_refused(posted_invoice):
    """A balanced pair of lines added by raw SQL to a posted invoice's entry (written by an
    earlier transaction) is refused at the first INSERT; the entry keeps its 3 lines."""
    entry = posted_invoice.posting_entry
    with (
        pytest.raises(DatabaseError, match="was written by an earlier transaction"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        for role, debit, credit in [
            (SystemRole.BANK, "10.00", "0"),
            (SystemRole.SALES, "0", "10.00"),
        ]:
            cursor.execute(
                "INSERT INTO ledger_journalline (entry_id, account_id, debit, credit, memo) "
                "VALUES (%s, %s, %s, %s, 'slipped in')",
                [entry.pk, account_id(role), D(debit), D(credit)],
            )
    assert JournalLine.objects.filter(entry=entry).count() == 3


@pytest.mark.postgres
def test_a_line_into_an_entry_written_earlier_is_refused_through_the_orm(posted_invoice):
    """The ORM hits the same trigger; an entry written in this same transaction (even in
    a savepoint) still takes its lines."""
    with (
        pytest.raises(DatabaseError, match="INSERT on ledger_journalline is not allowed"),
        transaction.atomic(),
    ):
        JournalLine.objects.create(
            entry=posted_invoice.posting_entry,
            account=system_account(SystemRole.BANK),
            debit=D("10.00"),
        )
    with transaction.atomic():
        with transaction.atomic():  # a savepoint: same top-level transaction
            entry = JournalEntry.objects.create(
                date=datetime.date(2026, 11, 2),
                memo="same transaction",
                posted_by=posted_invoice.posted_by,
                posted_at=datetime.datetime(2026, 11, 2, tzinfo=datetime.UTC),
            )
        for role, debit, credit in [
            (SystemRole.BANK, "5.00", "0"),
            (SystemRole.SALES, "0", "5.00"),
        ]:
            JournalLine.objects.create(
                entry=entry, account=system_account(role), debit=D(debit), credit=D(credit)
            )
    assert JournalLine.objects.filter(entry=entry).count() == 2


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE invoicing_document SET grand_total = grand_total - 100 WHERE id = %s",
        "UPDATE invoicing_document SET subtotal = 0, tax_total = 0, grand_total = 0, "
        "balance_due = 0 WHERE id = %s",
        "UPDATE invoicing_document SET date = date - 1 WHERE id = %s",
        "UPDATE invoicing_document SET number = 'INV-X' WHERE id = %s",
        "UPDATE invoicing_document SET kind = 'credit_memo' WHERE id = %s",
        "UPDATE invoicing_document SET posting_entry_id = NULL WHERE id = %s",
        "UPDATE invoicing_document SET status = 'draft' WHERE id = %s",
        "DELETE FROM invoicing_document WHERE id = %s",
    ],
    ids=["grand-total", "all-totals", "date", "number", "kind", "entry", "to-draft", "delete"],
)
def test_posted_document_keeps_its_totals_and_identity(posted_invoice, statement):
    """Raw SQL can't change a posted document's totals or identity, send it back to draft,
    or delete it; the row is left exactly as it was."""
    from invoicing.models import Document

    before = Document.objects.filter(pk=posted_invoice.pk).values().get()
    with (
        pytest.raises(DatabaseError, match="on invoicing_document is not allowed"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [posted_invoice.pk])
    assert Document.objects.filter(pk=posted_invoice.pk).values().get() == before


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE invoicing_documentline SET quantity = 30 WHERE document_id = %s",
        "DELETE FROM invoicing_documentline WHERE document_id = %s",
        "INSERT INTO invoicing_documentline (document_id, position, item_id, description, "
        "quantity, unit_price, unit_adjustment, tax_profile_id, tax_rate, extended_amount, "
        "tax_amount) SELECT document_id, 9, item_id, 'extra', 1, 1, 0, tax_profile_id, 0, 1, 0 "
        "FROM invoicing_documentline WHERE document_id = %s",
    ],
    ids=["update", "delete", "insert"],
)
def test_posted_document_lines_never_change(posted_invoice, statement):
    """A posted document's lines can't be changed, removed or added to."""
    before = list(posted_invoice.lines.order_by("pk").values())
    with (
        pytest.raises(DatabaseError, match="on invoicing_documentline is not allowed"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [posted_invoice.pk])
    assert list(posted_invoice.lines.order_by("pk").values()) == before


@pytest.mark.postgres
def test_what_a_posted_document_may_still_change(posted_invoice, poster):
    """The guard leaves open what the services change after posting: the open amount (an
    application), a note, and the move to void (with its void_* columns)."""
    from invoicing.models import Document
    from invoicing.services import document_void

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE invoicing_document SET balance_due = balance_due - 1, note = 'ok' "
            "WHERE id = %s",
            [posted_invoice.pk],
        )
        cursor.execute(
            "UPDATE invoicing_document SET balance_due = grand_total WHERE id = %s",
            [posted_invoice.pk],
        )
    voided = document_void(document=posted_invoice, by=poster, date=datetime.date(2026, 11, 20))
    assert Document.objects.get(pk=voided.pk).status == "void"


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_auditevent SET action = 'nothing happened' WHERE id = %s",
        "UPDATE ledger_auditevent SET actor_id = NULL WHERE id = %s",
        "DELETE FROM ledger_auditevent WHERE id = %s",
    ],
    ids=["update-action", "update-actor", "delete"],
)
def test_audit_events_are_append_only(posted_invoice, statement):
    """An audit event can't be edited or deleted, not even by raw SQL."""
    from ledger.models import AuditEvent

    event = AuditEvent.objects.filter(target_ref=posted_invoice.number).order_by("pk").first()
    before = AuditEvent.objects.filter(pk=event.pk).values().get()
    events = _count("ledger_auditevent")
    with (
        pytest.raises(DatabaseError, match="on ledger_auditevent is not allowed"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).values().get() == before
    assert _count("ledger_auditevent") == events


# --- CheckConstraints: on every database ----------------------------------------------------


@pytest.mark.parametrize(
    "balance_due",
    ["-0.01", "grand_total + 0.01", "1000000.00"],
    ids=["below-zero", "above-total", "far-above"],
)
def test_open_amount_out_of_range_is_refused_by_the_database(posted_invoice, balance_due):
    """An invoice's open amount stays within 0..its total: anything else is refused by the
    document_balance_due_in_range CheckConstraint, on SQLite too."""
    from invoicing.models import Document

    with (
        pytest.raises(IntegrityError, match="document_balance_due_in_range"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"UPDATE invoicing_document SET balance_due = {balance_due} WHERE id = %s",  # noqa: S608
            [posted_invoice.pk],
        )
    assert Document.objects.get(pk=posted_invoice.pk).balance_due == posted_invoice.grand_total


def test_credit_open_amount_and_reservation_are_range_checked(poster):
    """A credit's open amount stays within its total..0, and it reserves no more than its
    open credit; an invoice reserves nothing."""
    from invoicing.models import Document, DocumentKind

    memo = make_invoice(
        customer=CustomerFactory(),
        by=poster,
        kind=DocumentKind.CREDIT_MEMO,
        lines=[line("PRT", "1", "100.00")],
        post_by=poster,
    )
    assert memo.balance_due == D("-100.00")
    refused = [
        ("balance_due = 0.01", "document_balance_due_in_range"),
        ("balance_due = -100.01", "document_balance_due_in_range"),
        ("reserved = 100.01", "document_reserved_within_open_credit"),
        ("reserved = -1", "document_reserved_not_negative"),
    ]
    for assignment, constraint in refused:
        with (
            pytest.raises(IntegrityError, match=constraint),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                f"UPDATE invoicing_document SET {assignment} WHERE id = %s",  # noqa: S608
                [memo.pk],
            )
    invoice = make_invoice(customer=memo.customer, by=poster, post_by=poster)
    with (
        pytest.raises(IntegrityError, match="document_reserved_within_open_credit"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE invoicing_document SET reserved = 1 WHERE id = %s", [invoice.pk])
    with transaction.atomic(), connection.cursor() as cursor:  # the whole credit may be held
        cursor.execute("UPDATE invoicing_document SET reserved = 100 WHERE id = %s", [memo.pk])
    stored = Document.objects.get(pk=memo.pk)
    assert (stored.balance_due, stored.reserved) == (D("-100.00"), D("100.00"))
