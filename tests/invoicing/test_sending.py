"""Emailing documents and the To Be Sent list (issue 12, items 4–6): the Email form queues
a send that a background task delivers with the frozen PDF attached; every send is
recorded on the document's page; To Be Sent lists what hasn't gone out the customer's way,
and emails or prints a selection."""

import datetime
import hashlib
import io
import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.urls import reverse
from pypdf import PdfReader

from customers.models import Delivery
from invoicing import selectors, services
from invoicing.models import CompanyProfile, DocumentSend, SendChannel, SendStatus
from tests.factories import (
    CustomerFactory,
    make_invoice,
    posted_deposit,
    posted_invoice,
    posted_memo,
)
from tests.helpers import client_for

pytestmark = pytest.mark.django_db
DAY = datetime.date(2026, 11, 10)
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
DATABASE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


class FailingBackend(BaseEmailBackend):
    """A mail server that refuses every message."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPException("550 mailbox unavailable")


@pytest.fixture(autouse=True)
def tasks_and_mail(settings):
    """Tasks run at once unless a test says not; mail stays in mail.outbox. (Frozen PDFs
    go to a temporary directory: tests/conftest.py.)"""
    settings.TASKS = IMMEDIATE
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def memo(rep, poster, customer):
    return posted_memo(customer, "250.00", by=rep, post_by=poster)


def email_url(obj) -> str:
    return reverse("invoicing:email", args=[obj.pk])


def form_data(client, url, **changes) -> dict:
    """The Email form as the page pre-fills it, with `changes`."""
    form = client.get(url).context["form"]
    data = {name: form[name].value() or "" for name in ("to", "cc", "subject", "message", "key")}
    data.update(changes)
    return data


def content_of(response) -> bytes:
    assert response.status_code == 200
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def send_form(client, url, data, capture):
    with capture(execute=True):
        return client.post(url, data)


# --- the Email form ------------------------------------------------------------------------


def test_email_form_prefills_and_sends_the_frozen_pdf(
    rep, poster, customer, memo, django_capture_on_commit_callbacks
):
    client = client_for(rep)
    url = email_url(memo)
    page = client.get(url)
    assert page.status_code == 200
    initial = page.context["form"].initial
    assert initial["to"] == customer.email
    assert initial["subject"] == f"Credit Memo {memo.number} from Credit Desk Demo Co."
    assert f"Dear {customer.name}," in initial["message"]
    assert "-250.00" in initial["message"]

    data = form_data(client, url, to=f"{customer.email}, ap@example.com\nboss@example.com")
    response = send_form(client, url, data, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert response.url == memo.get_absolute_url()

    send = DocumentSend.objects.get()
    assert send.status == SendStatus.SENT
    assert send.recipients == [customer.email, "ap@example.com", "boss@example.com"]
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == send.recipients
    assert message.subject == data["subject"]
    (name, content, mimetype) = message.attachments[0]
    assert (name, mimetype) == (f"{memo.number}.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    # The frozen bytes: the same the PDF download serves, every time.
    pdf_url = reverse("invoicing:pdf", args=[memo.pk])
    downloads = [content_of(client.get(pdf_url)) for _ in range(2)]
    assert downloads[0] == downloads[1] == content
    assert hashlib.sha256(content).hexdigest() == send.pdf_sha256
    assert message.extra_headers["Message-ID"] == send.message_id
    assert send.message_id.startswith("<") and send.finished_at is not None

    # The document's page shows the send.
    detail = client.get(memo.get_absolute_url()).content.decode()
    assert 'id="sends-table"' in detail
    assert "badge-send-sent" in detail and "ap@example.com" in detail


def test_company_profile_wording_with_unknown_and_hostile_placeholders(rep, memo):
    CompanyProfile.objects.create(
        pk=1,
        name="Acme Supply",
        email_subject="{title} {number} — {nope} {{literal}}",
        email_message="Hi {customer}, {title.__class__} credit left {remaining_credit}",
    )
    draft = services.email_defaults(memo)
    assert draft["subject"] == f"Credit Memo {memo.number} — {{nope}} {{literal}}"
    # Only plain placeholders are filled: attribute or index access leaves the text as
    # the admin wrote it.
    assert draft["message"] == "Hi {customer}, {title.__class__} credit left {remaining_credit}"
    CompanyProfile.objects.filter(pk=1).update(email_message="Left {remaining_credit}")
    assert services.email_defaults(memo)["message"] == "Left 250.00"
    CompanyProfile.objects.filter(pk=1).update(email_subject="{0} broken {")
    assert services.email_defaults(memo)["subject"] == "{0} broken {"


def test_bad_address_is_an_error_next_to_to_and_nothing_is_queued(
    rep, memo, django_capture_on_commit_callbacks
):
    client = client_for(rep)
    url = email_url(memo)
    data = form_data(client, url, to="good@example.com, not-an-address")
    response = send_form(client, url, data, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert response.context["form"].errors["to"] == [
        "“not-an-address” isn't a valid email address."
    ]
    assert 'id="id_to_error"' in response.content.decode()
    assert DocumentSend.objects.count() == 0
    assert mail.outbox == []


def test_failing_mail_server_marks_the_send_failed_with_the_reason(
    rep, memo, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    client = client_for(rep)
    url = email_url(memo)
    response = send_form(client, url, form_data(client, url), django_capture_on_commit_callbacks)
    assert response.status_code == 302
    send = DocumentSend.objects.get()
    assert send.status == SendStatus.FAILED
    assert "550 mailbox unavailable" in send.error
    assert send.finished_at is not None and send.message_id == ""
    page = client.get(memo.get_absolute_url()).content.decode()
    assert "badge-send-failed" in page and "550 mailbox unavailable" in page

    # A retry is a new send; the failed one stays.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    send_form(client, url, form_data(client, url), django_capture_on_commit_callbacks)
    assert list(DocumentSend.objects.order_by("id").values_list("status", flat=True)) == [
        SendStatus.FAILED,
        SendStatus.SENT,
    ]


def test_resent_form_queues_once(rep, memo, django_capture_on_commit_callbacks):
    client = client_for(rep)
    url = email_url(memo)
    data = form_data(client, url)
    for _ in range(2):
        response = send_form(client, url, data, django_capture_on_commit_callbacks)
        assert response.status_code == 302
    assert DocumentSend.objects.count() == 1
    assert len(mail.outbox) == 1


def test_who_may_send_and_what(rep, poster, accountant, customer, memo):
    for user in (rep, poster):
        assert client_for(user).get(email_url(memo)).status_code == 200
    assert client_for(accountant).get(email_url(memo)).status_code == 403
    response = client_for(accountant).post(
        email_url(memo), {"to": "x@example.com", "subject": "s", "key": "k1"}
    )
    assert response.status_code == 403
    with pytest.raises(Exception) as refused:
        services.document_email(
            obj=memo, to="x@example.com", subject="s", message="", by=accountant
        )
    # The refusal says who can: "Only an A/R rep or a Poster can send Credit Memo CM-…".
    assert "Only an A/R rep or a Poster can send" in str(refused.value)

    draft = make_invoice(customer=customer, by=rep)
    page = client_for(rep).get(email_url(draft), follow=True)
    assert "isn't posted" in page.content.decode() or "can't" in page.content.decode()
    with pytest.raises(Exception, match="posted"):
        services.document_email(obj=draft, to="x@example.com", subject="s", message="", by=rep)
    assert DocumentSend.objects.count() == 0
    # The button is offered where the policy allows it.
    assert 'id="email-document"' in client_for(rep).get(memo.get_absolute_url()).content.decode()
    assert 'id="email-document"' not in (
        client_for(rep).get(draft.get_absolute_url()).content.decode()
    )


def test_deposit_receipt_is_emailed_from_the_deposit_page(
    rep, poster, customer, django_capture_on_commit_callbacks
):
    deposit = posted_deposit(customer, "300.00", by=rep, post_by=poster)
    client = client_for(poster)
    assert 'id="email-deposit"' in client.get(deposit.get_absolute_url()).content.decode()
    url = reverse("deposits:email", args=[deposit.pk])
    data = form_data(client, url)
    assert data["subject"].startswith(f"Deposit Receipt {deposit.number}")
    send_form(client, url, data, django_capture_on_commit_callbacks)
    send = DocumentSend.objects.get()
    assert send.deposit == deposit and send.status == SendStatus.SENT
    assert mail.outbox[0].attachments[0][0] == f"{deposit.number}.pdf"
    assert "badge-send-sent" in client.get(deposit.get_absolute_url()).content.decode()


# The worker closes the database connection between tasks (close_old_connections), which a
# test inside one transaction can't survive on PostgreSQL: these tests commit for real.
WORKER = pytest.mark.django_db(transaction=True)


@WORKER
def test_database_backend_and_the_worker(rep, memo, settings, django_capture_on_commit_callbacks):
    """The real path: the send is queued in the database, and the worker delivers it."""
    settings.TASKS = DATABASE
    client = client_for(rep)
    url = email_url(memo)
    send_form(client, url, form_data(client, url), django_capture_on_commit_callbacks)
    send = DocumentSend.objects.get()
    assert send.status == SendStatus.QUEUED and send.task_id
    assert mail.outbox == []
    assert "badge-send-queued" in client.get(memo.get_absolute_url()).content.decode()

    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    send.refresh_from_db()
    assert send.status == SendStatus.SENT
    assert len(mail.outbox) == 1


# --- To Be Sent ---------------------------------------------------------------------------------


@pytest.fixture
def books(rep, poster):
    """An Email customer with an invoice and a memo, a Print customer with an invoice, an
    Email customer without an address, and a draft (never listed)."""
    email = CustomerFactory(name="Mail Co")
    paper = CustomerFactory(name="Paper Co", delivery=Delivery.PRINT)
    silent = CustomerFactory(name="Silent Co", email="")
    invoice = posted_invoice(email, "100.00", by=rep, post_by=poster)
    memo = posted_memo(email, "40.00", by=rep, post_by=poster)
    printed = posted_invoice(paper, "70.00", by=rep, post_by=poster)
    unmailable = posted_invoice(silent, "10.00", by=rep, post_by=poster)
    make_invoice(customer=email, by=rep)
    return invoice, memo, printed, unmailable


def listed(client, **query) -> list[str]:
    response = client.get(reverse("invoicing:to_be_sent"), query)
    assert response.status_code == 200
    return [row.record.number for row in response.context["table"].page.object_list]


def test_to_be_sent_lists_unsent_and_drops_sent(rep, books, django_capture_on_commit_callbacks):
    invoice, memo, printed, unmailable = books
    client = client_for(rep)
    assert sorted(listed(client)) == sorted(d.number for d in books)
    assert listed(client, delivery="print") == [printed.number]
    assert listed(client, kind="credit_memo") == [memo.number]
    assert listed(client, customer=invoice.customer.pk, kind="invoice") == [invoice.number]
    assert listed(client, date_from="2030-01-01") == []
    page = client.get(reverse("invoicing:to_be_sent")).content.decode()
    assert 'id="email-selected"' in page and 'form="send-form"' in page
    assert "To Be Sent" in page

    # An email that failed leaves it listed; one sent drops it.
    with django_capture_on_commit_callbacks(execute=True):
        services.document_email(obj=invoice, to="x@example.com", subject="s", message="", by=rep)
    assert invoice.number not in listed(client)
    # A print customer's document is listed until it is printed, whatever was emailed.
    with django_capture_on_commit_callbacks(execute=True):
        services.document_email(obj=printed, to="x@example.com", subject="s", message="", by=rep)
    assert printed.number in listed(client)
    services.document_print(obj=printed, by=rep)
    assert printed.number not in listed(client)


@WORKER
def test_email_selected_queues_one_each_and_skips_customers_without_email(
    rep, books, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = DATABASE
    invoice, memo, printed, unmailable = books
    client = client_for(rep)
    data = {"ids": [invoice.pk, memo.pk, unmailable.pk], "key": "batch-1"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("invoicing:to_be_sent_email"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    panel = response.content.decode()
    assert 'hx-trigger="every 2s"' in panel
    assert "2 queued" in panel and "0 sent" in panel
    assert f"{unmailable.number} (Silent Co has no billing email)" in panel
    sends = list(DocumentSend.objects.order_by("id"))
    assert [s.document for s in sends] == [invoice, memo]
    assert sends[0].recipients == [invoice.customer.email]
    assert sends[0].subject == f"Invoice {invoice.number} from Credit Desk Demo Co."

    # The same form again (a double click) queues nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("invoicing:to_be_sent_email"), data, HTTP_HX_REQUEST="true")
    assert DocumentSend.objects.count() == 2

    # The panel polls until nothing is queued.
    ids = ",".join(str(s.pk) for s in sends)
    progress = reverse("invoicing:to_be_sent_progress") + f"?ids={ids}"
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    panel = client.get(progress, HTTP_HX_REQUEST="true").content.decode()
    assert "0 queued" in panel and "2 sent" in panel
    assert "every 2s" not in panel
    assert len(mail.outbox) == 2
    assert sorted(listed(client)) == sorted([printed.number, unmailable.number])


def test_print_selected_is_one_pdf_of_all_and_records_prints(rep, accountant, books):
    invoice, memo, printed, unmailable = books
    client = client_for(rep)
    data = {"ids": [printed.pk, invoice.pk], "key": "print-1"}
    response = client.post(reverse("invoicing:to_be_sent_print"), data)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    merged = PdfReader(io.BytesIO(response.content))
    singles = [
        len(PdfReader(io.BytesIO(services.frozen_pdf_bytes(d, by=rep)[0])).pages)
        for d in (invoice, printed)
    ]
    assert len(merged.pages) == sum(singles)
    text = "\n".join(page.extract_text() for page in merged.pages)
    assert invoice.number in text and printed.number in text
    prints = DocumentSend.objects.filter(channel=SendChannel.PRINT, status=SendStatus.SENT)
    assert sorted(p.document.number for p in prints) == sorted([invoice.number, printed.number])
    assert printed.number not in listed(client)
    # Printing again with the same form records nothing more.
    client.post(reverse("invoicing:to_be_sent_print"), data)
    assert prints.count() == 2
    # An accountant may look but not send.
    assert (
        client_for(accountant).post(reverse("invoicing:to_be_sent_print"), data).status_code == 403
    )
    assert (
        client_for(accountant).post(reverse("invoicing:to_be_sent_email"), data).status_code == 403
    )
    assert 'id="email-selected"' not in (
        client_for(accountant).get(reverse("invoicing:to_be_sent")).content.decode()
    )


def test_sends_selector_and_progress_counts(rep, memo, settings):
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    send = services.document_email(obj=memo, to="a@example.com", subject="s", message="", by=rep)
    services.deliver(send)  # on_commit didn't run inside the test's transaction
    progress = selectors.send_progress([str(send.pk), "junk"])
    assert (progress["queued"], progress["sent"], progress["failed"]) == (0, 0, 1)
    assert list(selectors.sends_for(memo)) == [send]


def test_a_send_delivered_twice_goes_out_once_and_is_audited(rep, memo):
    """Two workers handed the same queued send deliver it once; queueing and sending are
    audit events (the frozen PDF records who rendered it on its own row)."""
    from ledger.models import AuditAction, AuditEvent

    send = services.document_email(
        obj=memo, to="ap@example.com", subject="Credit", message="Hi", by=rep
    )
    first = services.deliver(send)
    second = services.deliver(DocumentSend.objects.get(pk=send.pk))
    assert first.status == second.status == SendStatus.SENT
    assert len(mail.outbox) == 1
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {AuditAction.EMAIL_QUEUED, AuditAction.EMAIL_SENT} <= actions


def test_selections_refuse_too_many_and_ignore_absurd_ids(rep, books):
    """More than BATCH_LIMIT ticked is refused with a message; ids that are not ASCII digits
    or too long for a database id are ignored, never a 500."""
    client = client_for(rep)
    many = [str(i) for i in range(selectors.BATCH_LIMIT + 1)]
    for name in ("invoicing:to_be_sent_email", "invoicing:to_be_sent_print"):
        response = client.post(reverse(name), {"ids": many}, follow=True)
        assert response.status_code == 200
        assert f"at most {selectors.BATCH_LIMIT}" in response.content.decode()
        response = client.post(reverse(name), {"ids": ["9" * 40, "٣", "-1", "x"]}, follow=True)
        assert response.status_code == 200
    assert not DocumentSend.objects.exists()
    progress = client.get(reverse("invoicing:to_be_sent_progress"), {"ids": "9" * 40 + ",٣,x"})
    assert progress.status_code == 200


def test_default_message_says_where_each_kind_stands(rep, poster, customer, memo):
    """The default wording names what is due on an invoice and the credit left on a credit
    memo; a payment receipt never shows a negative "Balance Due"."""
    invoice = make_invoice(customer=customer, by=rep, post_by=poster)
    assert (
        f"Balance Due: {invoice.balance_due:,.2f}." in services.email_defaults(invoice)["message"]
    )
    memo_text = services.email_defaults(memo)["message"]
    assert "Remaining credit: 250.00." in memo_text and "Balance Due" not in memo_text


def test_more_than_twenty_recipients_is_refused_next_to_the_field(rep, memo):
    """A document goes to a customer's people, not a mailing list: 21 addresses in To (or
    Cc) are refused on that field and nothing is queued."""
    from django.core.exceptions import ValidationError

    many = "\n".join(f"a{i}@example.com" for i in range(21))
    for field in ("to", "cc"):
        fields = {"to": "ap@example.com", "cc": "", field: many}
        with pytest.raises(ValidationError) as refused:
            services.document_email(obj=memo, subject="Credit", message="", by=rep, **fields)
        assert "At most 20 addresses" in str(refused.value.message_dict[field])
    assert not DocumentSend.objects.exists()
