"""Posting at volume: document_post costs the same few statements (at most 8 on
PostgreSQL) for 1 line as for 100, with the system accounts cached per process but checked
against the database in every posting; "Post selected" posts up to 1,000 drafts in one
transaction, all or nothing, with the reason for each draft that held it back, for Posters
only, once per form."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config.roles import Action, user_may
from invoicing import services
from invoicing.exceptions import InvoicingError
from invoicing.models import Document, DocumentStatus
from invoicing.services.posting import BatchRefused, documents_post_batch
from ledger.models import Account, AuditEvent, JournalEntry, LedgerSettings, SystemRole
from ledger.selectors import system_accounts
from ledger.services import posting_state
from tests.factories import line
from tests.invoicing.books import books_stay_balanced, fast_password_hashing  # noqa: F401

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("fast_password_hashing", "books_stay_balanced"),
]
D = Decimal
DAY = datetime.date(2026, 11, 2)
POSTGRES = connection.vendor == "postgresql"


def draft(customer, rep, *, lines=1, date=DAY):
    return services.document_create(
        customer=customer,
        date=date,
        lines=[line("SVC", "1", "10.00") for _ in range(lines)],
        by=rep,
    )


def service_queries(call) -> list[str]:
    """The service's statements, without the SAVEPOINT/RELEASE pair of the test's own
    transaction (BEGIN/COMMIT in production)."""
    with CaptureQueriesContext(connection) as ctx:
        call()
    sql = [q["sql"] for q in ctx.captured_queries]
    if sql and sql[0].startswith("SAVEPOINT") and sql[-1].startswith("RELEASE SAVEPOINT"):
        sql = sql[1:-1]
    return sql


# --- document_post -------------------------------------------------------------------------


def test_document_post_costs_the_same_at_1_and_100_lines(rep, poster, customer):
    """At most 8 statements on PostgreSQL (key, lock with customer, settings, lines,
    entry, entry lines, document, audit rows), the same at 1 and 100 lines."""
    assert user_may(poster, Action.POST)
    services.document_post(document=draft(customer, rep), by=poster, key="warm")
    one, hundred = draft(customer, rep, lines=1), draft(customer, rep, lines=100)

    at_1 = service_queries(lambda: services.document_post(document=one, by=poster, key="p-1"))
    at_100 = service_queries(
        lambda: services.document_post(document=hundred, by=poster, key="p-100")
    )

    assert len(at_1) == len(at_100), "\n".join(at_100)
    assert not any("SAVEPOINT" in sql for sql in at_100)
    if POSTGRES:
        assert len(at_100) <= 8, "\n".join(at_100)
    hundred.refresh_from_db()
    assert hundred.status == DocumentStatus.POSTED and hundred.balance_due == D("1000.00")
    assert hundred.posting_entry.lines.count() == 2  # 100 lines to one income account, merged
    assert AuditEvent.objects.filter(detail__journal_entry=hundred.posting_entry_id).exists()


def test_a_changed_chart_is_seen_by_the_next_posting(rep, poster, customer):
    """The per-process account cache is checked against the database in the posting's
    own settings statement: once A/R's role is on another account (another process's
    admin, a flushed test database), the next posting's lookup returns that account."""
    services.document_post(document=draft(customer, rep), by=poster)  # fills the cache
    before = posting_state()
    old = system_accounts(SystemRole.RECEIVABLE, fingerprint=before.accounts)
    old = old[SystemRole.RECEIVABLE]
    Account.objects.filter(pk=old.pk).update(system_role=None)
    new = Account.objects.create(
        code="1199", name="New A/R", type="asset", normal_side="debit",
        system_role=SystemRole.RECEIVABLE,
    )  # fmt: skip
    after = posting_state()
    if POSTGRES:
        assert after.accounts != before.accounts
    found = system_accounts(SystemRole.RECEIVABLE, fingerprint=after.accounts)
    assert found[SystemRole.RECEIVABLE].pk == new.pk
    new.delete()  # the chart as it was, for check_ledger
    Account.objects.filter(pk=old.pk).update(system_role=SystemRole.RECEIVABLE)


# --- "Post selected" -----------------------------------------------------------------------


def test_post_selected_posts_every_draft_in_one_go(rep, poster, customer):
    drafts = [draft(customer, rep, lines=2) for _ in range(5)]
    batch = documents_post_batch(documents=drafts, by=poster, key="b-1")
    assert len(batch.posted) == 5
    for doc in Document.objects.filter(pk__in=[d.pk for d in drafts]):
        assert doc.status == DocumentStatus.POSTED
        assert doc.balance_due == D("20.00") and doc.posting_entry_id
    assert JournalEntry.objects.filter(source_ref__in=[d.number for d in drafts]).count() == 5


def test_post_selected_costs_the_same_for_5_and_50_drafts(rep, poster, customer):
    assert user_may(poster, Action.POST)
    documents_post_batch(documents=[draft(customer, rep)], by=poster)  # warm caches
    five = [draft(customer, rep) for _ in range(5)]
    fifty = [draft(customer, rep, lines=3) for _ in range(50)]
    at_5 = service_queries(lambda: documents_post_batch(documents=five, by=poster, key="b5"))
    at_50 = service_queries(lambda: documents_post_batch(documents=fifty, by=poster, key="b50"))
    assert len(at_5) == len(at_50), "\n".join(at_50)
    if POSTGRES:
        assert len(at_50) <= 9, "\n".join(at_50)


def test_one_bad_draft_posts_nothing_and_is_named(rep, poster, customer):
    """All or nothing: a draft dated in the closed period and one already posted hold the
    batch back; the report names each with its reason; nothing is posted."""
    good = [draft(customer, rep) for _ in range(3)]
    early = draft(customer, rep, date=datetime.date(2026, 10, 1))
    done = services.document_post(document=draft(customer, rep), by=poster)
    LedgerSettings.objects.filter(pk=1).update(books_closed_through=datetime.date(2026, 10, 31))

    with pytest.raises(BatchRefused) as exc:
        documents_post_batch(documents=[*good, early, done], by=poster, key="b-bad")

    report = dict(exc.value.failures)
    assert set(report) == {early.number, done.number}
    assert "closed through 10/31/2026" in report[early.number]
    assert "already posted" in report[done.number]
    assert "Nothing was posted: 2 of the 5" in exc.value.messages[0]
    assert not Document.objects.filter(pk__in=[d.pk for d in good], status="posted").exists()


def test_a_draft_changed_since_the_page_was_shown_posts_nothing(rep, poster, customer):
    first, second = draft(customer, rep), draft(customer, rep)
    shown = {first.pk: first.version, second.pk: second.version}
    services.document_update_draft(
        document=second, by=rep, lines=[line("SVC", "2", "10.00")], expected_version=second.version
    )
    with pytest.raises(BatchRefused) as exc:
        documents_post_batch(documents=[first, second], versions=shown, by=poster)
    assert "changed by someone else" in dict(exc.value.failures)[second.number]
    assert Document.objects.filter(status="draft").count() == 2


def test_more_than_1000_is_refused(rep, poster, customer):
    with pytest.raises(InvoicingError) as exc:
        documents_post_batch(documents=list(range(1, 1002)), by=poster)
    assert exc.value.messages == ["Select at most 1,000 drafts at a time (you selected 1,001)."]


def test_a_rep_cannot_post_selected(rep, customer):
    with pytest.raises(PermissionDenied):
        documents_post_batch(documents=[draft(customer, rep)], by=rep)
    assert Document.objects.filter(status="draft").count() == 1


# --- the "To post" screen ------------------------------------------------------------------


def test_the_queue_refuses_a_rep_by_url(rep_client, rep, customer):
    d = draft(customer, rep)
    assert rep_client.get(reverse("invoicing:post_queue")).status_code == 403
    response = rep_client.post(
        reverse("invoicing:post_queue"), {"documents": [f"{d.pk}:{d.version}"], "key": "r-1"}
    )
    assert response.status_code == 403
    d.refresh_from_db()
    assert d.status == DocumentStatus.DRAFT


def test_the_queue_lists_drafts_and_posts_selected_once(poster_client, rep, customer):
    drafts = [draft(customer, rep) for _ in range(3)]
    page = poster_client.get(reverse("invoicing:post_queue"))
    assert page.status_code == 200
    for d in drafts:
        assert f'value="{d.pk}:{d.version}"'.encode() in page.content
    data = {"documents": [f"{d.pk}:{d.version}" for d in drafts[:2]], "key": "q-1"}

    first = poster_client.post(reverse("invoicing:post_queue"), data, follow=True)
    again = poster_client.post(reverse("invoicing:post_queue"), data, follow=True)

    assert b"Posted 2 drafts, 20.00 in all." in first.content
    assert b"This form was already sent: 2 drafts were posted then." in again.content
    assert JournalEntry.objects.filter(source_ref__in=[d.number for d in drafts]).count() == 2
    assert Document.objects.get(pk=drafts[2].pk).status == DocumentStatus.DRAFT


def test_the_queue_reports_a_stale_selection(poster_client, poster, rep, customer):
    first, second = draft(customer, rep), draft(customer, rep)
    data = {"documents": [f"{first.pk}:{first.version}", f"{second.pk}:{second.version}"]}
    services.document_post(document=second, by=poster)  # someone else posted it meanwhile
    response = poster_client.post(reverse("invoicing:post_queue"), {**data, "key": "q-2"})
    assert response.status_code == 400
    assert (
        f"{second.number}</strong>: {second.number} is already posted.".encode() in response.content
    )
    assert Document.objects.get(pk=first.pk).status == DocumentStatus.DRAFT


def test_the_queue_refuses_garbled_input_without_a_500(poster_client):
    response = poster_client.post(
        reverse("invoicing:post_queue"), {"documents": ["x:y"], "key": "q-3"}, follow=True
    )
    assert response.status_code == 200
    assert b"The selection was garbled" in response.content
