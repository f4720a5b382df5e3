"""Customer statements: rendering (print view and PDF from one template,
`templates/invoicing/print/statement.html`, on the documents' letterhead and stylesheet),
emailing one (a background task, like documents), and "Send statements" to many.

- `render_statement_html(statement)` / `render_statement_pdf(statement)` — the print view
  and the PDF, through `invoicing.printing`'s letterhead, stylesheet and renderer.
- `statement_email(...)` — one statement emailed to its customer: checks the addresses and
  who may send (`policies.require_statement_sending`), refuses a second copy of the same
  statement (customer, statement date, kind) unless the first failed — in this service
  (under the customer's row lock) and in the database (a partial unique constraint) —
  records a queued `StatementSend` and, on commit, enqueues `send_statement`.
- `deliver_statement(send)` — the task's body: the PDF rendered and attached, the email
  sent, the row marked sent (Message-ID) or failed (the reason).
- `statements_run_start(...)` — "Send statements": a `StatementRun` of every customer with
  a non-zero balance (or those matching a code/name) and, on commit, the task
  `send_statements` that emails each in turn and records a result per customer. Run
  twice, nobody gets a second copy: each customer's send is refused as already sent.

Imports `invoicing.printing`, `invoicing.services.sending` (addresses, Message-ID) and the
statements selector; only views and tasks import it.
"""

import hashlib
import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django_tasks import task

from customers.models import Customer
from invoicing import printing
from invoicing.models import SendStatus, StatementKind, StatementRun, StatementSend
from invoicing.policies import require_statement_sending
from invoicing.selectors.statements import Statement, statement_customers, statement_for
from invoicing.services.base import service
from invoicing.services.sending import (
    _reason,
    clean_email,
    email_pdf,
    enqueue_send,
    finish_send,
)
from ledger.money import format_money
from ledger.services import AuditAction, audit_log

logger = logging.getLogger(__name__)

TEMPLATE = "invoicing/print/statement.html"


# --- what a statement looks like ----------------------------------------------------------


def statement_reference(statement: Statement) -> str:
    """What the letterhead shows under the title: the customer's code and the date(s)."""
    end = statement.statement_date.strftime("%m/%d/%Y")
    if statement.is_activity:
        return f"{statement.customer.code} · {statement.period_start:%m/%d/%Y}–{end}"
    return f"{statement.customer.code} · {end}"


def statement_filename(statement: Statement) -> str:
    stamp = statement.statement_date.strftime("%Y%m%d")
    if statement.is_activity:
        stamp = f"{statement.period_start:%Y%m%d}-{stamp}"
    return f"statement-{statement.customer.code}-{stamp}.pdf"


def render_statement_html(statement: Statement, *, request=None, for_pdf=False, toolbar=None):
    """The statement as the documents print: the letterhead of `templates/invoicing/print/
    base.html`, the statement's body. `for_pdf` as in `printing.render_html`."""
    customer = statement.customer
    company = printing.company_profile()
    context = {
        "statement": statement,
        "kind": "statement",
        "title": statement.title,
        "company": company,
        "customer": customer,
        "bill_to": [customer.billing_contact, *customer.address_lines]
        if customer.billing_contact
        else list(customer.address_lines),
        "number": statement_reference(statement),
        "date": statement.statement_date,
        "toolbar": toolbar,
        "for_pdf": for_pdf,
        "logo_src": (company.logo_uri if for_pdf else company.logo_data_uri) or "",
    }
    return render_to_string(TEMPLATE, context, request=request)


def render_statement_pdf(statement: Statement) -> bytes:
    """The statement as PDF bytes, with the documents' parsed stylesheet and fonts."""
    from weasyprint import HTML

    html = render_statement_html(statement, for_pdf=True)
    css, font_config = printing._renderer.stylesheets()
    return HTML(string=html, base_url=printing.base_url()).write_pdf(
        stylesheets=[css], font_config=font_config
    )


def statement_email_defaults(statement: Statement) -> dict:
    """What the Email statement form starts with."""
    company = printing.company_profile().name
    when = statement.statement_date.strftime("%m/%d/%Y")
    if statement.is_activity:
        what = f"your account activity from {statement.period_start:%m/%d/%Y} to {when}"
    else:
        what = f"your statement of open items as of {when}"
    owed = statement.amount_due
    line = (
        f"Amount due: {format_money(owed)}."
        if owed >= 0
        else f"Credit in your favour: {format_money(-owed)}."
    )
    return {
        "to": statement.customer.email,
        "cc": "",
        "subject": f"Statement {statement_reference(statement)} from {company}",
        "message": f"Dear {statement.customer.name},\n\nPlease find attached {what}.\n"
        f"{line}\n\nThank you,\n{company}",
    }


# --- emailing one statement -----------------------------------------------------------------


def clean_period(kind: str, statement_date, period_start):
    """(kind, period start) checked: an activity statement needs a start on or before its
    end; an open-item statement has none."""
    kind = StatementKind(kind)
    if kind == StatementKind.OPEN_ITEM:
        return kind, None
    if period_start is None:
        raise ValidationError({"start": "Enter the period's first day."}, code="no_start")
    if period_start > statement_date:
        raise ValidationError(
            {"start": "The period starts on or before its last day."}, code="bad_period"
        )
    return kind, period_start


def sent_before(customer_id: int, kind: str, statement_date) -> StatementSend | None:
    """The send of this statement that did not fail, if there is one."""
    return (
        StatementSend.objects.filter(
            customer_id=customer_id, kind=kind, statement_date=statement_date
        )
        .exclude(status=SendStatus.FAILED)
        .first()
    )


def _already(send: StatementSend) -> ValidationError:
    when = timezone.localtime(send.created_at).strftime("%m/%d/%Y %H:%M")
    state = "queued" if send.status == SendStatus.QUEUED else "sent"
    return ValidationError(
        f"This statement was already {state} to {send.customer.name} on {when} "
        f"({', '.join(send.recipients)}); a customer gets one copy of each statement date.",
        code="already_sent",
    )


@service("statement_email")
def statement_email(
    *,
    customer: Customer,
    kind: str,
    statement_date,
    period_start=None,
    to: str,
    cc: str = "",
    subject: str,
    message: str = "",
    by,
    run: StatementRun | None = None,
) -> StatementSend:
    """Email one statement of `customer`: queued now, sent by the task once this
    transaction commits (or, in a run, by the run's task right after)."""
    require_statement_sending(by)
    kind, period_start = clean_period(kind, statement_date, period_start)
    to_list, cc_list, subject = clean_email(to, cc, subject)
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    earlier = sent_before(customer.pk, kind, statement_date)
    if earlier is not None:
        raise _already(earlier)
    try:
        with transaction.atomic():
            send = StatementSend.objects.create(
                customer=customer,
                kind=kind,
                statement_date=statement_date,
                period_start=period_start,
                run=run,
                status=SendStatus.QUEUED,
                to="\n".join(to_list),
                cc="\n".join(cc_list),
                subject=subject[:255],
                message=message or "",
                created_by=by,
            )
    except IntegrityError:  # another request sent it between our check and our insert
        raise _already(sent_before(customer.pk, kind, statement_date)) from None
    audit_log(
        by=by,
        action=AuditAction.EMAIL_QUEUED,
        target=customer,
        statement=kind,
        statement_date=statement_date.isoformat(),
        send=send.pk,
        to=to_list,
    )
    if run is None:
        transaction.on_commit(lambda: enqueue_send(StatementSend, send_statement, send.pk))
    return send


def deliver_statement(send: StatementSend) -> StatementSend:
    """Send one queued statement email (locked while sent, so two workers send it once;
    a send already finished is left alone)."""
    with transaction.atomic():
        claimed = (
            StatementSend.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=send.pk, status=SendStatus.QUEUED)
            .select_related("customer", "created_by")
            .first()
        )
        if claimed is not None:
            _deliver_locked(claimed)
    send.refresh_from_db()
    return send


def _deliver_locked(send: StatementSend) -> None:
    customer = send.customer
    try:
        statement = statement_for(customer, send.kind, send.statement_date, send.period_start)
        data = render_statement_pdf(statement)
        send.pdf_sha256 = hashlib.sha256(data).hexdigest()
        message_id = email_pdf(send, statement_filename(statement), data)
    except Exception as exc:  # noqa: BLE001 - any failure is recorded on the send
        logger.warning("Statement send %s to %s failed: %s", send.pk, customer, exc)
        action = finish_send(send, error=exc)
    else:
        action = finish_send(send, message_id=message_id)
    audit_log(
        by=send.created_by,
        action=action,
        target=customer,
        statement=send.kind,
        send=send.pk,
        error=send.error,
    )


@task()
def send_statement(send_id: int) -> str:
    """Deliver the queued statement send `send_id`; run twice, it sends once."""
    return deliver_statement(StatementSend.objects.get(pk=send_id)).status


# --- Send statements ----------------------------------------------------------------------------


MAX_RUN_CUSTOMERS = 20_000  # one run; narrow by customer for more


@service("statements_run")
def statements_run_start(
    *, kind: str, statement_date, period_start=None, customer_search: str = "", by
) -> StatementRun:
    """Start "Send statements": the customers with a non-zero balance on the statement
    date (narrowed by `customer_search`), recorded on a run that the task works through
    once this transaction commits. A form sent twice starts one run (its key)."""
    require_statement_sending(by)
    kind, period_start = clean_period(kind, statement_date, period_start)
    customers = statement_customers(statement_date, customer_search=customer_search)
    if not customers:
        raise ValidationError(
            "No customer with a balance matches: there is nothing to send.", code="nobody"
        )
    if len(customers) > MAX_RUN_CUSTOMERS:
        raise ValidationError(
            {
                "customer": f"{len(customers)} customers match; send at most {MAX_RUN_CUSTOMERS} at once."
            },
            code="too_many",
        )
    run = StatementRun.objects.create(
        kind=kind,
        statement_date=statement_date,
        period_start=period_start,
        customer_search=customer_search or "",
        total=len(customers),
        customer_ids=[c.pk for c in customers],
        created_by=by,
    )
    transaction.on_commit(lambda: _enqueue_run(run.pk))
    return run


def _enqueue_run(run_id: int) -> None:
    try:
        result = send_statements.enqueue(run_id)
    except Exception as exc:  # noqa: BLE001 - whatever the backend raised is the reason
        logger.exception("Could not queue statement run %s", run_id)
        StatementRun.objects.filter(pk=run_id, status=StatementRun.Status.QUEUED).update(
            status=StatementRun.Status.FAILED,
            error=f"Could not queue the run: {exc}",
            finished_at=timezone.now(),
        )
        return
    StatementRun.objects.filter(pk=run_id).update(task_id=str(result.id)[:64])


def _claim_run(run_id: int) -> StatementRun | None:
    with transaction.atomic():
        run = (
            StatementRun.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=run_id, status=StatementRun.Status.QUEUED)
            .select_related("created_by")
            .first()
        )
        if run is None:
            return None
        run.status = StatementRun.Status.RUNNING
        run.save(update_fields=["status"])
    return run


def _one(run: StatementRun, customer: Customer) -> dict:
    """Email the run's statement to one customer: the result row."""
    result = {"customer_id": customer.pk, "code": customer.code, "name": customer.name}
    if not customer.email:
        return result | {"outcome": "skipped", "detail": "No billing email."}
    statement = statement_for(customer, run.kind, run.statement_date, run.period_start)
    draft = statement_email_defaults(statement)
    try:
        send = statement_email(
            customer=customer,
            kind=run.kind,
            statement_date=run.statement_date,
            period_start=run.period_start,
            to=draft["to"],
            subject=draft["subject"],
            message=draft["message"],
            by=run.created_by,
            run=run,
        )
    except ValidationError as exc:
        return result | {"outcome": "skipped", "detail": " ".join(exc.messages)}
    send = deliver_statement(send)
    if send.status == SendStatus.SENT:
        return result | {"outcome": "sent", "detail": ", ".join(send.recipients)}
    return result | {"outcome": "failed", "detail": send.error}


def run_statements(run_id: int) -> StatementRun:
    """The task's body: each customer of the run in turn, its result saved as it goes (the
    progress the page polls). A run already started or finished is left alone."""
    run = _claim_run(run_id)
    if run is None:
        return StatementRun.objects.get(pk=run_id)
    by_id = Customer.objects.in_bulk(run.customer_ids)
    results = []
    try:
        for pk in run.customer_ids:
            customer = by_id.get(pk)
            if customer is None:
                continue
            try:
                results.append(_one(run, customer))
            except Exception as exc:  # noqa: BLE001 - one customer's failure is its result
                logger.exception("Statement run %s: customer %s", run.pk, pk)
                results.append(
                    {"customer_id": pk, "code": customer.code, "name": customer.name}
                    | {"outcome": "failed", "detail": _reason(exc)}
                )
            StatementRun.objects.filter(pk=run.pk).update(results=results)
    finally:
        StatementRun.objects.filter(pk=run.pk).update(
            results=results, status=StatementRun.Status.DONE, finished_at=timezone.now()
        )
    run.refresh_from_db()
    return run


@task()
def send_statements(run_id: int) -> str:
    """The background task of "Send statements"."""
    return run_statements(run_id).status
