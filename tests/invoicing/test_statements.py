"""Customer statements (issue 15, item 2): an open-item statement as of a date and an
activity statement for a period, hand-computed for one customer, tying out to the aging
and the A/R control account; the print view and the PDF from one template; Email
statement (a send recorded, the task delivering it); Send statements (a run, its progress,
one email per customer however often it runs, in parallel too); who may do what."""

import datetime
import io
import threading
from decimal import Decimal

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from pypdf import PdfReader

from invoicing import services
from invoicing.allocator import Allocation
from invoicing.models import SendStatus, StatementKind, StatementRun, StatementSend
from invoicing.selectors.aging import aging_summary
from invoicing.selectors.statements import activity_statement, open_item_statement
from invoicing.services import statements as statement_services
from ledger.models import SystemRole
from ledger.selectors import account_balances_by_customer
from tests.factories import CustomerFactory, posted_deposit, posted_invoice, posted_memo
from tests.helpers import client_for
from tests.invoicing.books import books_stay_balanced, reference_data  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_stay_balanced")]
D = Decimal
OCT_1, OCT_31, NOV_1, NOV_30 = (
    datetime.date(2026, 10, 1),
    datetime.date(2026, 10, 31),
    datetime.date(2026, 11, 1),
    datetime.date(2026, 11, 30),
)
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
DATABASE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture(autouse=True)
def tasks_and_mail(settings):
    settings.TASKS = IMMEDIATE
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _payment(customer, amount, date, *, rep, poster, applied_to=None):
    payment = services.payment_record(
        customer=customer, by=rep, date=date, method="check", amount=D(amount)
    )
    payment = services.document_post(document=payment, by=poster)
    if applied_to is not None:
        services.credit_apply(
            source=payment, allocations=[Allocation(applied_to, D(amount))], by=rep, date=date
        )
    return payment


@pytest.fixture
def books(rep, poster, poster2):
    """One customer (Net 30):
    10/01 invoice A 1,000.00 (due 10/31)       10/15 invoice B 500.00 (due 11/14)
    10/20 credit memo 200.00 (not applied)     10/25 deposit 400.00 received
    11/05 payment 600.00 applied to A          11/10 deposit 300.00 applied to B
    11/20 refund 50.00 of the credit memo (released by a second poster)
    and another customer with an invoice, so nothing leaks between customers."""
    acme = CustomerFactory(code="STM-A", name="Acme Statements", email="ap@acme.example")
    other = CustomerFactory(code="STM-B", name="Other Co")
    kw = {"by": rep, "post_by": poster}
    inv_a = posted_invoice(acme, "1000.00", date=OCT_1, **kw)
    inv_b = posted_invoice(acme, "500.00", date=datetime.date(2026, 10, 15), **kw)
    memo = posted_memo(acme, "200.00", date=datetime.date(2026, 10, 20), **kw)
    deposit = posted_deposit(acme, "400.00", date=datetime.date(2026, 10, 25), **kw)
    _payment(acme, "600.00", datetime.date(2026, 11, 5), rep=rep, poster=poster, applied_to=inv_a)
    services.deposit_apply(
        deposit=deposit, invoice=inv_b, amount=D("300.00"), by=rep, date=datetime.date(2026, 11, 10)
    )
    refund = services.refund_prepare(
        document=memo, amount=D("50.00"), method="check", date=datetime.date(2026, 11, 20), by=rep
    )
    services.refund_release(refund=refund, by=poster2, date=datetime.date(2026, 11, 20))
    posted_invoice(other, "75.00", date=datetime.date(2026, 11, 3), **kw)
    return {"acme": acme, "other": other, "inv_a": inv_a, "inv_b": inv_b, "memo": memo}


# --- the figures ---------------------------------------------------------------------------------


def test_open_item_statement_as_of_nov_30_matches_the_hand_computed_figures(books):
    acme = books["acme"]
    statement = open_item_statement(acme, NOV_30)
    rows = [
        (line.number, line.amount, line.days_overdue, line.bucket_label) for line in statement.lines
    ]
    assert rows == [
        # oldest ageing date first. The credit memo −200 + 50 refunded = −150, by its own
        # date 10/20: 41 days.
        (books["memo"].number, D("-150.00"), 41, "31–60"),
        # invoice A 1,000 − 600 paid = 400, due 10/31: 30 days → 1–30.
        (books["inv_a"].number, D("400.00"), 30, "1–30"),
        # invoice B 500 − 300 deposit = 200, due 11/14: 16 days.
        (books["inv_b"].number, D("200.00"), 16, "1–30"),
    ]
    assert statement.labels == ["Current", "1–30", "31–60", "61–90", "Over 90"]
    assert statement.buckets == [D("0.00"), D("600.00"), D("-150.00"), D("0.00"), D("0.00")]
    assert statement.closing == statement.aging_total == D("450.00")
    assert statement.ties
    # the deposit: 400 received, 300 applied → 100 held, not part of the balance.
    assert statement.deposits_held == D("100.00")
    assert account_balances_by_customer(SystemRole.RECEIVABLE, as_of=NOV_30)[acme.pk] == D("450.00")


def test_open_item_statement_as_of_oct_31_is_that_days_figures(books):
    statement = open_item_statement(books["acme"], OCT_31)
    # A 1,000 (due today: current), B 500 (current), memo −200 (11 days: 1–30).
    assert statement.buckets == [D("1500.00"), D("-200.00"), D("0.00"), D("0.00"), D("0.00")]
    assert statement.closing == statement.aging_total == D("1300.00")
    assert statement.deposits_held == D("400.00")


def test_activity_statement_for_november_runs_from_the_opening_to_the_aging_total(books):
    acme = books["acme"]
    statement = activity_statement(acme, NOV_1, NOV_30)
    # Opening = A/R as of 10/31: 1,000 + 500 − 200.
    assert statement.opening == D("1300.00")
    assert (
        statement.opening
        == account_balances_by_customer(SystemRole.RECEIVABLE, as_of=OCT_31)[acme.pk]
    )
    rows = [(line.date.day, line.label, line.amount, line.balance) for line in statement.lines]
    assert rows == [
        (5, "Payment", D("-600.00"), D("700.00")),
        (10, "Deposit applied", D("-300.00"), D("400.00")),
        (20, "Refund", D("50.00"), D("450.00")),
    ]
    assert statement.charges == D("50.00") and statement.credits == D("900.00")
    # opening + activity = closing = the aging's total = A/R control for the customer.
    assert statement.opening + sum(line.amount for line in statement.lines) == statement.closing
    assert statement.closing == D("450.00") == statement.aging_total
    assert aging_summary(NOV_30, customer_ids=[acme.pk]).total == D("450.00")
    assert statement.ties
    # deposits, for information: 400 held at the start, 300 applied on 11/10.
    assert statement.deposits_opening == D("400.00")
    assert [(m.date.day, m.amount, m.held) for m in statement.deposit_moves] == [
        (10, D("-300.00"), D("100.00"))
    ]


def test_activity_statement_over_both_months_starts_from_nothing(books):
    statement = activity_statement(books["acme"], OCT_1, NOV_30)
    assert statement.opening == D("0.00")
    assert [line.amount for line in statement.lines] == [
        D("1000.00"),
        D("500.00"),
        D("-200.00"),
        D("-600.00"),
        D("-300.00"),
        D("50.00"),
    ]
    assert statement.closing == D("450.00") == statement.aging_total
    assert [m.amount for m in statement.deposit_moves] == [D("400.00"), D("-300.00")]


def test_a_void_in_the_period_shows_as_its_own_line(books, poster):
    acme = books["acme"]
    extra = posted_invoice(
        acme, "80.00", date=datetime.date(2026, 11, 2), by=poster, post_by=poster
    )
    services.document_void(document=extra, by=poster, date=datetime.date(2026, 11, 3))
    statement = activity_statement(acme, NOV_1, NOV_30)
    labels = [(line.label, line.amount) for line in statement.lines[:2]]
    assert labels == [("Invoice", D("80.00")), ("Void of invoice", D("-80.00"))]
    assert statement.closing == statement.aging_total == D("450.00")


# --- the page, the print view and the PDF ---------------------------------------------------


def _pdf_text(data: bytes) -> str:
    import re

    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", " ", "\n".join(page.extract_text() for page in reader.pages))


def test_statement_page_print_and_pdf_show_the_same_figures(books, rep):
    acme = books["acme"]
    client = client_for(rep)
    query = "?kind=activity&as_of=2026-11-30&start=2026-11-01"
    page = client.get(reverse("customers:statement", args=[acme.pk]) + query)
    assert page.status_code == 200
    html = page.content.decode()
    assert "1,300.00" in html and "450.00" in html and "Ties out" in html
    printed = client.get(reverse("customers:statement_print", args=[acme.pk]) + query)
    assert printed.status_code == 200
    assert (
        "letterhead" in printed.content.decode()
        and "Activity statement" in printed.content.decode()
    )
    pdf = client.get(reverse("customers:statement_pdf", args=[acme.pk]) + query)
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert "statement-STM-A-20261101-20261130.pdf" in pdf["Content-Disposition"]
    text = _pdf_text(pdf.content)
    for expected in (
        "Activity statement",
        "Opening balance",
        "1,300.00",
        "-600.00",
        "450.00",
        "DEPOSITS HELD",
        "STM-A",
    ):
        assert expected in text, expected
    open_items = client.get(
        reverse("customers:statement_pdf", args=[acme.pk]) + "?kind=open_item&as_of=2026-11-30"
    )
    text = _pdf_text(open_items.content)
    assert "Open-item statement" in text and books["inv_a"].number in text
    assert "OVER 90" in text.upper() and "-150.00" in text  # headings print in capitals


def test_bad_dates_come_back_next_to_the_field_never_a_500(books, rep):
    acme = books["acme"]
    client = client_for(rep)
    url = reverse("customers:statement", args=[acme.pk])
    for query, field in (
        ("?kind=activity&as_of=2026-11-01&start=2026-11-30", "start"),
        ("?kind=open_item&as_of=not-a-date", "as_of"),
        ("?kind=weekly", "kind"),
        ("?kind=open_item&as_of=1900-01-01", "as_of"),
    ):
        response = client.get(url + query)
        assert response.status_code == 200, query
        assert response.context["form"].errors.get(field), query
        assert "statement" not in response.context
        for view in ("customers:statement_print", "customers:statement_pdf"):
            bad = client.get(reverse(view, args=[acme.pk]) + query)
            assert bad.status_code == 400 and bad.context["form"].errors.get(field)


# --- emailing ----------------------------------------------------------------------------------


def _email_form(client, customer, query="?kind=open_item&as_of=2026-11-30", **changes):
    url = reverse("customers:statement_email", args=[customer.pk])
    form = client.get(url + query).context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(changes)
    return url, data


def test_email_statement_records_a_send_and_the_task_delivers_it_with_the_pdf(
    books, rep, django_capture_on_commit_callbacks
):
    acme = books["acme"]
    client = client_for(rep)
    url, data = _email_form(client, acme)
    assert data["to"] == "ap@acme.example"
    assert "STM-A" in data["subject"] and "Amount due: 450.00" in data["message"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302
    send = StatementSend.objects.get()
    assert (send.customer, send.kind, send.statement_date) == (
        acme,
        StatementKind.OPEN_ITEM,
        NOV_30,
    )
    assert send.status == SendStatus.SENT and send.message_id and send.pdf_sha256
    (email,) = mail.outbox
    assert email.to == ["ap@acme.example"]
    (name, content, mimetype) = email.attachments[0]
    assert name == "statement-STM-A-20261130.pdf" and mimetype == "application/pdf"
    assert "450.00" in _pdf_text(content)
    # the same form again (a double click): one send, one email.
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, data).status_code == 302
    assert StatementSend.objects.count() == 1 and len(mail.outbox) == 1
    # a new form for the same statement date: refused, next to the form.
    url, again = _email_form(client, acme)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, again)
    assert response.status_code == 400
    assert "already sent" in " ".join(response.context["form"].non_field_errors())
    assert len(mail.outbox) == 1
    # the send is listed on the statement page.
    page = client.get(reverse("customers:statement", args=[acme.pk]))
    assert "ap@acme.example" in page.content.decode()


def test_email_with_a_worker_stays_queued_until_the_task_runs(books, rep, settings):
    settings.TASKS = DATABASE
    acme = books["acme"]
    send = statement_services.statement_email(
        customer=acme,
        kind="open_item",
        statement_date=NOV_30,
        to="ap@acme.example",
        subject="Statement",
        by=rep,
    )
    assert send.status == SendStatus.QUEUED and not mail.outbox
    assert statement_services.send_statement.call(send.pk) == SendStatus.SENT
    assert statement_services.send_statement.call(send.pk) == SendStatus.SENT  # run twice: once
    assert len(mail.outbox) == 1


def test_bad_addresses_are_refused_on_their_field(books, rep):
    client = client_for(rep)
    url, data = _email_form(client, books["acme"], to="not-an-address")
    response = client.post(url, data)
    assert response.status_code == 400
    assert "isn't a valid email address" in response.context["form"].errors["to"][0]
    assert not StatementSend.objects.exists()


def test_the_database_allows_one_live_send_per_customer_date_and_kind(books, rep):
    acme = books["acme"]
    fields = {"customer": acme, "kind": "open_item", "statement_date": NOV_30, "created_by": rep}
    StatementSend.objects.create(status=SendStatus.FAILED, **fields)
    StatementSend.objects.create(status=SendStatus.SENT, **fields)  # a failed one may be retried
    with pytest.raises(IntegrityError), transaction.atomic():
        StatementSend.objects.create(status=SendStatus.QUEUED, **fields)
    # another kind or another date is another statement.
    StatementSend.objects.create(
        status=SendStatus.SENT, **{**fields, "kind": "activity"}, period_start=NOV_1
    )
    StatementSend.objects.create(status=SendStatus.SENT, **{**fields, "statement_date": OCT_31})


# --- Send statements -----------------------------------------------------------------------------


def _start(client, **changes):
    url = reverse("reports:statements")
    form = client.get(url).context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    data |= {"kind": "open_item", "as_of": "2026-11-30", **changes}
    return url, data


def test_send_statements_twice_sends_one_email_per_customer(
    books, rep, django_capture_on_commit_callbacks
):
    client = client_for(rep)
    CustomerFactory(code="STM-C", name="Nothing owed")  # no balance: not sent
    CustomerFactory(code="STM-D", name="No email", email="")
    url, data = _start(client)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)
    run = StatementRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "reports:statement_run", args=[run.pk]
    )
    assert run.status == StatementRun.Status.DONE and run.total == 2
    outcomes = {r["code"]: r["outcome"] for r in run.results}
    assert outcomes == {"STM-A": "sent", "STM-B": "sent"}
    assert sorted(m.to[0] for m in mail.outbox) == ["ap@acme.example", "stm-b@example.com"]
    # the same form again: the same run, nothing more sent.
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, data)["Location"] == response["Location"]
    assert StatementRun.objects.count() == 1
    # a second run for the same date: every customer skipped as already sent.
    url, data = _start(client)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, data)
    second = StatementRun.objects.order_by("-pk").first()
    assert second.pk != run.pk
    assert {r["outcome"] for r in second.results} == {"skipped"}
    assert all("already sent" in r["detail"] for r in second.results)
    assert len(mail.outbox) == 2
    assert StatementSend.objects.filter(status=SendStatus.SENT).count() == 2
    # the progress page and its partial (htmx) show the results.
    page = client.get(reverse("reports:statement_run", args=[second.pk]))
    assert page.status_code == 200 and "STM-A" in page.content.decode()
    partial = client.get(reverse("reports:statement_run", args=[second.pk]), HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode() and "2 skipped" in partial.content.decode()


def test_send_statements_filtered_and_with_a_worker_polls_progress(books, rep, settings):
    settings.TASKS = DATABASE
    client = client_for(rep)
    url, data = _start(client, customer="Acme")
    client.post(url, data)
    run = StatementRun.objects.get()
    assert run.customer_ids == [books["acme"].pk] and run.status == StatementRun.Status.QUEUED
    partial = client.get(reverse("reports:statement_run", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 2s"' in partial.content.decode()  # polls while queued
    assert statement_services.send_statements.call(run.pk) == StatementRun.Status.DONE
    assert statement_services.send_statements.call(run.pk) == StatementRun.Status.DONE
    assert len(mail.outbox) == 1
    partial = client.get(reverse("reports:statement_run", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert "every 2s" not in partial.content.decode() and "1 sent" in partial.content.decode()


def test_send_statements_bad_input_comes_back_next_to_the_field(books, rep):
    client = client_for(rep)
    url, data = _start(client, kind="activity", start="2026-12-01")
    response = client.post(url, data)
    assert response.status_code == 400 and response.context["form"].errors["start"]
    url, data = _start(client, customer="nobody-matches")
    response = client.post(url, data)
    assert response.status_code == 400
    assert "nothing to send" in " ".join(response.context["form"].non_field_errors())
    assert not StatementRun.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("reference_data")
def test_two_runs_in_parallel_send_each_customer_one_email(rep, poster, settings):
    """Two Send statements started at once, their tasks run in two threads: each customer
    gets one email; the other run records it as already sent."""
    settings.TASKS = DATABASE
    customers = [CustomerFactory(code=f"PAR-{i}") for i in range(4)]
    for c in customers:
        posted_invoice(c, "10.00", date=NOV_1, by=rep, post_by=poster)
    runs = [
        statement_services.statements_run_start(
            kind="open_item", statement_date=NOV_30, by=rep, key=f"parallel-{i}"
        )
        for i in range(2)
    ]
    barrier = threading.Barrier(2)
    errors = []

    def work(run):
        try:
            barrier.wait()
            statement_services.run_statements(run.pk)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(run,)) for run in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(mail.outbox) == 4
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in customers)
    results = [r for run in StatementRun.objects.all() for r in run.results]
    assert sorted(r["outcome"] for r in results) == ["sent"] * 4 + ["skipped"] * 4
    assert StatementSend.objects.exclude(status=SendStatus.FAILED).count() == 4


# --- who may ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "view_status", "send_status"),
    [("rep", 200, 200), ("poster", 200, 200), ("accountant", 200, 403)],
)
def test_who_may_view_print_and_send_statements(books, request, role, view_status, send_status):
    user = request.getfixturevalue(role)
    client = client_for(user)
    acme = books["acme"]
    for name in ("customers:statement", "customers:statement_print", "customers:statement_pdf"):
        assert client.get(reverse(name, args=[acme.pk])).status_code == view_status, name
    assert (
        client.get(reverse("customers:statement_email", args=[acme.pk])).status_code == send_status
    )
    assert client.get(reverse("reports:statements")).status_code == send_status
    page = client.get(reverse("customers:statement", args=[acme.pk])).content.decode()
    assert ('id="statement-email"' in page) == (send_status == 200)
    if send_status == 403:
        url = reverse("reports:statements")
        assert (
            client.post(url, {"kind": "open_item", "as_of": "2026-11-30", "key": "k1"}).status_code
            == 403
        )
        assert not StatementRun.objects.exists()
    detail = client.get(reverse("customers:detail", args=[acme.pk])).content.decode()
    assert reverse("customers:statement", args=[acme.pk]) in detail


def test_a_statement_costs_the_same_queries_however_many_lines(books, rep, poster):
    """The open-item and activity statements read a fixed number of queries: more
    documents in the period add rows, not queries."""
    from django.test.utils import CaptureQueriesContext

    acme = books["acme"]

    def counts():
        with CaptureQueriesContext(connection) as activity:
            activity_statement(acme, OCT_1, NOV_30)
        with CaptureQueriesContext(connection) as open_items:
            open_item_statement(acme, NOV_30)
        return len(activity), len(open_items)

    before = counts()
    for day in range(1, 11):
        posted_invoice(acme, "10.00", date=datetime.date(2026, 11, day), by=rep, post_by=poster)
    assert counts() == before
