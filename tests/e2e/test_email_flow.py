"""Emailing a posted credit memo, in a real browser, as a Poster: Email on its page, the
pre-filled form, Send email, and the send shown as Sent on the memo's page. The live server
runs tasks with the immediate backend (no worker) and keeps mail in memory."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from invoicing.models import DocumentSend, SendStatus
from tests.e2e.conftest import POSTER_PASSWORD, log_in
from tests.factories import CustomerFactory, posted_invoice, posted_memo

pytestmark = pytest.mark.e2e


@pytest.fixture
def sending(settings, tmp_path):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }


def test_poster_emails_a_posted_credit_memo(page, sending, rep_user, poster_user):
    customer = CustomerFactory(name="Mailbox Ltd", email="ap@mailbox.example")
    memo = posted_memo(customer, "250.00", by=rep_user, post_by=poster_user)
    log_in(page, poster_user.username, POSTER_PASSWORD)

    page.goto(memo.get_absolute_url())
    expect(page.locator("#sends")).to_contain_text("Not sent yet.")
    with page.expect_navigation():
        page.get_by_role("link", name="Email", exact=True).click()

    expect(page).to_have_url(re.compile(rf"/invoices/{memo.pk}/email/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Email Credit Memo {memo.number}")
    expect(page.get_by_label("To")).to_have_value("ap@mailbox.example")
    expect(page.get_by_label("Subject")).to_have_value(
        f"Credit Memo {memo.number} from Credit Desk Demo Co."
    )
    page.get_by_label("Cc").fill("boss@mailbox.example")
    with page.expect_navigation():
        page.get_by_role("button", name="Send email").click()

    expect(page).to_have_url(re.compile(rf"/invoices/{memo.pk}/$"))
    expect(page.locator(".messages")).to_contain_text(
        f"{memo.number} emailed to ap@mailbox.example"
    )
    row = page.locator("#sends-table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Email")
    expect(row).to_contain_text("ap@mailbox.example")
    expect(row.locator(".badge")).to_have_text("Sent")

    send = DocumentSend.objects.get()
    assert send.status == SendStatus.SENT
    assert len(mail.outbox) == 1
    assert mail.outbox[0].cc == ["boss@mailbox.example"]
    assert mail.outbox[0].attachments[0][0] == f"{memo.number}.pdf"


def test_rep_emails_a_selection_from_to_be_sent(rep_page, sending, rep_user, poster_user):
    """To Be Sent lists the posted invoice; the rep ticks it and clicks Email selected: the
    panel under the list counts it sent, and after a refresh the list no longer has it."""
    page = rep_page
    customer = CustomerFactory(name="Batch Buyer", email="ap@batch.example")
    invoice = posted_invoice(customer, "90.00", by=rep_user, post_by=poster_user)

    page.goto("/")
    with page.expect_navigation():
        page.get_by_role("link", name="To Be Sent").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("To Be Sent")
    row = page.locator("#results tbody tr", has_text=invoice.number)
    expect(row).to_have_count(1)
    row.locator("input.send-pick").check()
    page.locator("#email-selected").click()

    panel = page.locator("#send-progress")
    expect(panel.locator("#count-sent")).to_have_text("1 sent")
    expect(panel.locator("#count-queued")).to_have_text("0 queued")
    assert mail.outbox[0].to == ["ap@batch.example"]
    with page.expect_navigation():
        panel.get_by_role("link", name="Refresh the list").click()
    expect(page.locator("#results")).not_to_contain_text(invoice.number)
