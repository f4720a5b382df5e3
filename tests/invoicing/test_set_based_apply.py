"""Apply Credit is set-based: the service locks, checks and writes with the same number of
statements for 10 applications as for 500 (on PostgreSQL at most 6: the form key with its
batch, one locking SELECT, one INSERT, one UPDATE, one audit row), and every check and the
one-time key work as before."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.roles import Action, user_may
from invoicing import services
from invoicing.allocator import Allocation
from invoicing.exceptions import OverApplication
from invoicing.models import Application, Document, DocumentKind
from ledger.models import AuditAction, AuditEvent, IdempotencyKey
from tests.factories import line
from tests.invoicing.books import books_stay_balanced, fast_password_hashing  # noqa: F401

pytestmark = pytest.mark.usefixtures("fast_password_hashing", "books_stay_balanced")
D = Decimal
DAY = datetime.date(2026, 11, 2)
APPLY_DAY = datetime.date(2026, 11, 20)
POSTGRES = connection.vendor == "postgresql"


def posted_invoices(customer, n, *, rep, poster, amount="10.00"):
    """n posted invoices of 1 × `amount` (posted in one "Post selected")."""
    drafts = [
        services.document_create(
            customer=customer, date=DAY, lines=[line("SVC", "1", amount)], by=rep
        )
        for _ in range(n)
    ]
    return services.documents_post_batch(documents=drafts, by=poster).posted


def posted_credit(customer, amount, *, rep, poster):
    memo = services.document_create(
        kind=DocumentKind.CREDIT_MEMO,
        customer=customer,
        date=DAY,
        lines=[line("SVC", "1", amount)],
        by=rep,
    )
    return services.document_post(document=memo, by=poster)


def service_queries(call) -> list[str]:
    """The SQL one service call runs, without the SAVEPOINT/RELEASE pair that the test's
    own transaction turns the service's transaction into (in production it is BEGIN and
    COMMIT, which aren't statements)."""
    with CaptureQueriesContext(connection) as ctx:
        call()
    sql = [q["sql"] for q in ctx.captured_queries]
    if sql and sql[0].startswith("SAVEPOINT") and sql[-1].startswith("RELEASE SAVEPOINT"):
        sql = sql[1:-1]
    return sql


def apply_all(credit, invoices, by, key):
    return services.credit_apply(
        source=credit,
        allocations=[Allocation(document=inv, amount=D("10.00")) for inv in invoices],
        date=APPLY_DAY,
        by=by,
        key=key,
    )


@pytest.mark.django_db
def test_apply_costs_the_same_statements_for_10_and_500_invoices(rep, poster, customer):
    """The same number of queries at 10 and 500 allocations; at most 6 on PostgreSQL; no
    savepoint inside the service; the applications, balances and audit row are right."""
    small = posted_invoices(customer, 10, rep=rep, poster=poster)
    large = posted_invoices(customer, 500, rep=rep, poster=poster)
    credit_small = posted_credit(customer, "100.00", rep=rep, poster=poster)
    credit_large = posted_credit(customer, "5000.00", rep=rep, poster=poster)
    assert user_may(rep, Action.APPLY_CREDIT)  # roles resolved once per request (cached)
    apply_all(credit_small, small[:1], rep, "warm-up")  # content types cached per process

    at_10 = service_queries(lambda: apply_all(credit_small, small[1:], rep, "k-10"))
    at_500 = service_queries(lambda: apply_all(credit_large, large, rep, "k-500"))

    assert not any("SAVEPOINT" in sql for sql in at_500)
    if POSTGRES:
        assert len(at_10) == len(at_500), "\n".join(at_500)
        assert len(at_500) <= 6, "\n".join(at_500)
    else:  # SQLite splits multi-row statements at its 999 bound variables: still per batch
        assert len(at_500) < len(at_10) + 15, "\n".join(at_500)
    credit_large.refresh_from_db()
    assert credit_large.balance_due == 0
    assert not Document.objects.filter(pk__in=[i.pk for i in large], balance_due__gt=0).exists()
    assert Application.objects.filter(source=credit_large).count() == 500
    event = AuditEvent.objects.get(action=AuditAction.CREDIT_APPLIED, target_id=credit_large.pk)
    assert event.amount == D("5000.00") and len(event.detail["to"]) == 500


@pytest.mark.django_db
def test_a_resent_apply_returns_the_first_applications(rep, poster, customer):
    """The key names the batch's first application from the claim on; a re-sent form gets
    the same applications back and applies nothing more."""
    invoices = posted_invoices(customer, 3, rep=rep, poster=poster)
    credit = posted_credit(customer, "30.00", rep=rep, poster=poster)
    first = apply_all(credit, invoices, rep, "same-key")
    again = apply_all(credit, invoices, rep, "same-key")

    assert [a.pk for a in again] == [a.pk for a in first]
    assert Application.objects.filter(source=credit).count() == 3
    key = IdempotencyKey.objects.get(key="same-key")
    assert key.result == Application.objects.get(pk=first[0].pk)
    assert {a.batch.key for a in Application.objects.filter(source=credit)} == {"same-key"}


@pytest.mark.django_db
def test_checks_still_refuse_under_the_set_based_write(rep, poster, customer):
    """Named twice, over the invoice, over the credit: refused with the field's message,
    nothing written (the key and batch claimed with the work roll back too)."""
    invoices = posted_invoices(customer, 2, rep=rep, poster=poster)
    credit = posted_credit(customer, "15.00", rep=rep, poster=poster)
    cases = [
        [Allocation(invoices[0], D("5.00")), Allocation(invoices[0], D("5.00"))],
        [Allocation(invoices[0], D("10.01"))],
        [Allocation(invoices[0], D("10.00")), Allocation(invoices[1], D("10.00"))],
    ]
    for number, allocations in enumerate(cases):
        with pytest.raises(OverApplication):
            services.credit_apply(
                source=credit, allocations=allocations, date=APPLY_DAY, by=rep, key=f"bad-{number}"
            )
    assert not Application.objects.exists()
    assert not IdempotencyKey.objects.filter(key__startswith="bad-").exists()


@pytest.mark.django_db
def test_apply_without_a_key_still_writes_one_batch(rep, poster, customer):
    invoices = posted_invoices(customer, 2, rep=rep, poster=poster)
    credit = posted_credit(customer, "20.00", rep=rep, poster=poster)
    applied = apply_all(credit, invoices, rep, "")
    assert len({a.batch_id for a in applied}) == 1
    credit.refresh_from_db()
    assert credit.balance_due == 0
