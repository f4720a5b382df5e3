"""Sending posted documents (and posted deposits) to their customers: by email, as a
background task, and on paper ("Print selected"). Every send is a `DocumentSend` row; rows
are never deleted, and a retry is a new send.

- `email_defaults(obj)` — To, Cc, subject and message the Email form starts with: the
  customer's billing email and the company profile's templates, filled in.
- `document_email(...)` — one email send: checks the addresses and the policy (`Act.SEND`),
  records the send as queued and, once the transaction commits, enqueues the task
  (`send_document`, below). Run once per form key.
- `deliver(send)` — the task's body: the frozen PDF attached, sent, and the row marked
  sent (with its Message-ID) or failed (with the reason).
- `document_print(...)` — one document printed: a print send recorded as sent; the
  caller merges the frozen PDFs (`printed_pdf`).

Imports `invoicing.services.printing` (the frozen PDF) and `base`; only views, the task
and the package's `__init__` import it.
"""

import logging
import re
import string

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.mail.message import make_msgid
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from invoicing.models import (
    CompanyProfile,
    Deposit,
    Document,
    DocumentKind,
    DocumentSend,
    SendChannel,
    SendStatus,
)
from invoicing.models.delivery import DEFAULT_MESSAGE, DEFAULT_SUBJECT
from invoicing.policies import Act, enforce
from invoicing.printing import TITLES, merge_pdfs
from invoicing.printing import _kind as print_kind
from invoicing.services.base import service
from invoicing.services.printing import frozen_pdf_bytes
from ledger.money import format_money
from ledger.services import AuditAction, audit_log

logger = logging.getLogger(__name__)

_SEPARATORS = re.compile(r"[\s,;]+")


# --- addresses and wording ----------------------------------------------------------------


MAX_RECIPIENTS = 20  # per field: a document goes to a customer's people, not a mailing list


def parse_addresses(text: str, *, field: str) -> list[str]:
    """Addresses one per line or separated by commas (or semicolons), each checked with
    Django's `validate_email`; a bad one is refused on `field`, by name, and so are more
    than MAX_RECIPIENTS."""
    addresses = [a for a in _SEPARATORS.split(text or "") if a]
    if len(dict.fromkeys(addresses)) > MAX_RECIPIENTS:
        raise ValidationError(
            {field: f"At most {MAX_RECIPIENTS} addresses, please."}, code="too_many_addresses"
        )
    bad = []
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    if bad:
        listed = ", ".join(f"“{a}”" for a in bad)
        noun = "isn't a valid email address" if len(bad) == 1 else "aren't valid email addresses"
        raise ValidationError({field: f"{listed} {noun}."}, code="bad_address")
    unique = list(dict.fromkeys(addresses))
    return unique


class _Placeholders(dict):
    """Values for the templates' placeholders; an unknown `{name}` stays as written."""

    def __missing__(self, key):
        return "{" + key + "}"


def _profile() -> tuple[str, str, str]:
    """(company name, subject template, message template) from the company profile, or
    the defaults while no profile row exists."""
    profile = CompanyProfile.objects.order_by("pk").first()
    if profile is None:
        return settings.COMPANY_NAME, DEFAULT_SUBJECT, DEFAULT_MESSAGE
    return (
        profile.name or settings.COMPANY_NAME,
        profile.email_subject or DEFAULT_SUBJECT,
        profile.email_message or DEFAULT_MESSAGE,
    )


def document_title(obj) -> str:
    """What the customer's copy is called: Invoice, Credit Memo, Payment Receipt, Refund
    Advice or Deposit Receipt."""
    return TITLES[print_kind(obj)]


def placeholders(obj, company: str) -> _Placeholders:
    """The plain strings a subject or message template may use, for a document or deposit."""
    if isinstance(obj, Deposit):
        total, balance, remaining = obj.amount, 0, obj.remaining
    else:
        total = obj.amount if obj.is_money else obj.grand_total
        balance = obj.display_balance
        remaining = -obj.balance_due if obj.balance_due < 0 else 0
    return _Placeholders(
        status_line=_status_line(obj, balance, remaining),
        title=document_title(obj),
        number=obj.number,
        date=obj.date.strftime("%m/%d/%Y"),
        customer=obj.customer.name,
        company=company,
        grand_total=format_money(total),
        balance_due=format_money(balance),
        remaining_credit=format_money(remaining),
    )


def _status_line(obj, balance, remaining) -> str:
    """One sentence on where the document stands, in the customer's words: what is due on
    an invoice, what credit or deposit is left, nothing for a refund."""
    if isinstance(obj, Deposit):
        return f"Remaining deposit: {format_money(remaining)}."
    if obj.kind == DocumentKind.REFUND:
        return ""
    if obj.is_money or obj.is_credit:
        label = "Unapplied credit" if obj.is_money else "Remaining credit"
        return f"{label}: {format_money(remaining)}."
    if balance <= 0:
        return "This invoice is paid in full."
    return f"Balance Due: {format_money(balance)}."


def fill(template: str, values: _Placeholders) -> str:
    """`template` with its placeholders filled by `str.format_map` over plain strings
    (never the template engine: the wording is admin text). A template that isn't a
    plain one — a stray brace, `{0}`, `{}`, attribute or index access like `{title.x}` —
    is used as written."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
        if not all(name.isidentifier() for name in fields):
            return template
        return template.format_map(values)
    except (ValueError, IndexError, KeyError, AttributeError, TypeError):
        return template


def email_defaults(obj) -> dict:
    """What the Email form starts with for `obj`."""
    company, subject, message = _profile()
    values = placeholders(obj, company)
    return {
        "to": obj.customer.email,
        "cc": "",
        "subject": " ".join(fill(subject, values).split()),
        "message": fill(message, values),
    }


# --- sending by email --------------------------------------------------------------------------


def _subject_of(obj) -> dict:
    return {"deposit": obj} if isinstance(obj, Deposit) else {"document": obj}


def _locked(obj):
    model = Deposit if isinstance(obj, Deposit) else Document
    return model.objects.select_for_update().select_related("customer").get(pk=obj.pk)


def enqueue_send(model, send_task, send_id: int) -> None:
    """Queue `send_task` for the committed send `send_id` (a `model` row: a document's or a
    statement's send); a queue that refuses it fails the send (with the reason) instead of
    losing it."""
    try:
        result = send_task.enqueue(send_id)
    except Exception as exc:  # noqa: BLE001 - whatever the backend raised is the reason
        logger.exception("Could not queue %s %s", model._meta.verbose_name, send_id)
        model.objects.filter(pk=send_id, status=SendStatus.QUEUED).update(
            status=SendStatus.FAILED,
            error=f"Could not queue the email: {exc}",
            finished_at=timezone.now(),
        )
        return
    model.objects.filter(pk=send_id).update(task_id=str(result.id)[:64])


def clean_email(to, cc, subject) -> tuple[list[str], list[str], str]:
    """(To, Cc, subject) of an email form checked: at least one To address, every address
    valid, a subject on one line (a header can't hold a newline)."""
    to_list = parse_addresses(to, field="to")
    if not to_list:
        raise ValidationError({"to": "Enter at least one address."}, code="no_address")
    cc_list = parse_addresses(cc, field="cc")
    subject = " ".join((subject or "").split())
    if not subject:
        raise ValidationError({"subject": "Enter a subject."}, code="no_subject")
    return to_list, cc_list, subject


@service("document_email")
def document_email(*, obj, to, cc="", subject, message, by) -> DocumentSend:
    """Email `obj` (a posted document or deposit) with its PDF: queued now, sent by the
    task once this transaction commits."""
    to_list, cc_list, subject = clean_email(to, cc, subject)
    obj = _locked(obj)
    enforce(by, Act.SEND, obj)
    send = DocumentSend.objects.create(
        **_subject_of(obj),
        channel=SendChannel.EMAIL,
        status=SendStatus.QUEUED,
        to="\n".join(to_list),
        cc="\n".join(cc_list),
        subject=subject[:255],
        message=message or "",
        created_by=by,
    )
    audit_log(by=by, action=AuditAction.EMAIL_QUEUED, target=obj, send=send.pk, to=to_list)
    transaction.on_commit(lambda: enqueue_send(DocumentSend, send_document, send.pk))
    return send


def deliver(send: DocumentSend) -> DocumentSend:
    """Send one queued email: the frozen PDF attached as `<number>.pdf`, a Message-ID of
    our own (stored), then the row marked sent — or failed with the reason on any error
    (the SMTP server's, the network's, the PDF's). The row is locked while it is sent, so
    two workers given the same send deliver it once; a send already finished is left
    alone."""
    with transaction.atomic():
        claimed = (
            DocumentSend.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=send.pk, status=SendStatus.QUEUED)
            .select_related("document", "deposit", "created_by")
            .first()
        )
        if claimed is None:
            send.refresh_from_db()
            return send
        _deliver_locked(claimed)
    send.refresh_from_db()
    return send


def _deliver_locked(send: DocumentSend) -> None:
    obj = send.document or send.deposit
    try:
        data, sha256 = frozen_pdf_bytes(obj, by=send.created_by)
        send.pdf_sha256 = sha256
        message_id = email_pdf(send, f"{obj.number}.pdf", data)
    except Exception as exc:  # noqa: BLE001 - any failure is recorded on the send
        logger.warning("Send %s of %s failed: %s", send.pk, obj, exc)
        action = finish_send(send, error=exc)
    else:
        action = finish_send(send, message_id=message_id)
    audit_log(by=send.created_by, action=action, target=obj, send=send.pk, error=send.error)


@task()
def send_document(send_id: int) -> str:
    """The background task (Django's tasks API, django-tasks): deliver the queued email
    send `send_id` and return its status. Run twice, it sends once. The default backend
    keeps tasks in the database and `manage.py db_worker` runs them; settings.TASKS (env
    TASKS_BACKEND) may point elsewhere."""
    send = DocumentSend.objects.select_related("document__customer", "deposit__customer").get(
        pk=send_id
    )
    return deliver(send).status


def email_pdf(send, filename: str, data: bytes) -> str:
    """Email `send` (its subject, message, To and Cc) with the PDF `data` attached as
    `filename`, under a Message-ID of our own (returned), replies to the company's email."""
    message_id = make_msgid(domain=_message_id_domain())
    email = EmailMessage(
        subject=send.subject,
        body=send.message,
        to=send.recipients,
        cc=[a for a in send.cc.split() if a],
        headers={"Message-ID": message_id},
        reply_to=_reply_to(),
    )
    email.attach(filename, data, "application/pdf")
    email.send(fail_silently=False)
    return message_id


def finish_send(send, *, message_id: str = "", error: Exception | None = None) -> str:
    """Mark `send` sent (with its Message-ID) or failed (with the reason of `error`) and
    save it; returns the audit action to log."""
    if error is not None:
        send.status, send.error = SendStatus.FAILED, _reason(error)
        action = AuditAction.EMAIL_FAILED
    else:
        send.status, send.message_id, send.error = SendStatus.SENT, message_id, ""
        action = AuditAction.EMAIL_SENT
    send.finished_at = timezone.now()
    send.save(update_fields=["status", "message_id", "error", "pdf_sha256", "finished_at"])
    return action


def _reply_to() -> list[str] | None:
    """Replies go to the company profile's email, when it has one."""
    email = CompanyProfile.objects.order_by("pk").values_list("email", flat=True).first()
    return [email] if email else None


def _message_id_domain() -> str:
    """The sending domain, from DEFAULT_FROM_EMAIL (`Name <ar@example.com>`)."""
    address = settings.DEFAULT_FROM_EMAIL.rsplit("<", 1)[-1].rstrip(">").strip()
    return address.rpartition("@")[2] if "@" in address else None


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- printing ---------------------------------------------------------------------------------


@service("document_print")
def document_print(*, obj, by) -> DocumentSend:
    """Record `obj` (a posted document or deposit) as printed: its PDF frozen, a print
    send marked sent. The caller merges the frozen PDFs of everything printed."""
    obj = _locked(obj)
    enforce(by, Act.SEND, obj)
    _data, sha256 = frozen_pdf_bytes(obj, by=by)
    audit_log(by=by, action=AuditAction.DOCUMENT_PRINTED, target=obj)
    return DocumentSend.objects.create(
        **_subject_of(obj),
        channel=SendChannel.PRINT,
        status=SendStatus.SENT,
        pdf_sha256=sha256,
        created_by=by,
        finished_at=timezone.now(),
    )


def printed_pdf(objs, *, by) -> bytes:
    """One PDF of the frozen PDFs of `objs`, in order."""
    return merge_pdfs([frozen_pdf_bytes(obj, by=by)[0] for obj in objs])
