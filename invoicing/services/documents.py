"""A/R documents' life: create and edit drafts, post (one balanced entry; posting then runs
the payments' earmark step), void (the exact reverse), cancel a draft. Also what a
service accepts as lines, and the entry posting writes (shown before posting)."""

import datetime
from dataclasses import dataclass, replace
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.roles import Action, require
from config.versioning import claim_version
from customers.models import BillingTerms, Customer
from invoicing.exceptions import InvoicingError, PostedDocumentLocked, StaleEdit
from invoicing.models import (
    Application,
    ApplicationOrigin,
    DepositApplication,
    Document,
    DocumentKind,
    DocumentLine,
    DocumentStatus,
    PaymentMethod,
    PlannedApplication,
)
from invoicing.policies import Act, enforce
from invoicing.services.applications import _credit_unapply
from invoicing.services.base import (
    LineInput,
    _as_credit_lines,
    _build_lines,
    _check_credit_total,
    _check_lines,
    _lock,
    _lock_deposits,
    _lock_in_order,
    _next_number,
    _set_totals,
    audit,
    audit_row,
    date_not_before,
    kind_action,
    locked_message,
    mark_void,
    post_entry,
    service,
    transfer_legs,
)
from invoicing.services.deposits import _deposit_unapply
from invoicing.services.payments import _after_post
from ledger.idempotency import Claim
from ledger.models import Account, SystemRole
from ledger.money import ZERO, clean_amount, clean_quantity
from ledger.selectors import system_accounts
from ledger.services import (
    Leg,
    _check_legs,
    audit_write,
    build_legs,
    check_business_date,
    ensure_period_open,
    journal_entry_reverse,
    posting_state,
)


def clean_line_inputs(lines) -> list[LineInput]:
    """Lines as a service accepts them, whoever calls: quantities with at most 4 decimal
    places, prices and adjustments with at most 2, exact decimals in ASCII digits (never
    floats); ValidationError naming the line otherwise."""
    cleaned = []
    for position, line in enumerate(lines or [], start=1):
        try:
            line = replace(
                line,
                quantity=clean_quantity(line.quantity),
                unit_price=clean_amount(line.unit_price, field="unit_price", positive=False),
                unit_adjustment=clean_amount(
                    line.unit_adjustment or ZERO, field="unit_adjustment", positive=False
                ),
            )
        except ValidationError as exc:
            raise ValidationError(
                {
                    field: [f"Line {position}: {message}" for message in messages]
                    for field, messages in exc.message_dict.items()
                }
            ) from None
        cleaned.append(line)
    return cleaned


@service(
    "document_create",
    needs=Action.EDIT_DRAFTS,
    dated="The document date",
    clean={"lines": clean_line_inputs},
)
def document_create(
    *,
    customer: Customer,
    date: datetime.date,
    lines: list[LineInput],
    by,
    kind: str = DocumentKind.INVOICE,
    billing_terms: str | None = None,
    description: str = "",
    source_invoice: Document | None = None,
    reason: str = "",
    note: str = "",
) -> Document:
    """Create a draft invoice or credit memo (the editor's kinds); `key` makes a re-sent
    form create it once. Payments, refunds and deposits have their own services."""
    if kind not in (DocumentKind.INVOICE, DocumentKind.CREDIT_MEMO):
        raise InvoicingError(
            "The editor makes invoices and credit memos; payments, refunds and deposits have "
            "their own forms.",
            code="wrong_kind",
        )
    _check_lines(lines)
    if kind == DocumentKind.CREDIT_MEMO:
        lines = _as_credit_lines(lines)
    terms = billing_terms or customer.billing_terms
    document = Document(
        kind=kind,
        number=_next_number(kind),
        customer=customer,
        date=date,
        billing_terms=terms,
        due_date=BillingTerms.due_date(terms, date),
        description=description,
        source_invoice=source_invoice,
        reason=reason,
        note=note,
        created_by=by,
        updated_by=by,
    )
    built = _build_lines(document, lines)
    _set_totals(document, built)
    _check_credit_total(document)
    document.save()
    DocumentLine.objects.bulk_create(built)
    audit(by, kind_action(document, "created"), document, document.grand_total)
    return document


@transaction.atomic
def document_update_draft(
    *,
    document: Document,
    by,
    lines: list[LineInput],
    customer: Customer | None = None,
    date: datetime.date | None = None,
    billing_terms: str | None = None,
    description: str | None = None,
    reason: str | None = None,
    note: str | None = None,
    expected_version: int | None = None,
) -> Document:
    """Replace a draft's header and lines (Spectra's Method 2 works on drafts only).
    `expected_version` is the version the editor loaded: a save based on an older one is
    refused with StaleEdit, and a save bumps the version."""
    require(by, Action.EDIT_DRAFTS)
    lines = clean_line_inputs(lines)
    check_business_date(date, what="The document date")
    document = _lock(document)
    if not document.is_draft:
        raise PostedDocumentLocked(locked_message(document))
    enforce(by, Act.EDIT, document)
    claim_version(document, expected_version, StaleEdit)
    _check_lines(lines)
    if document.kind == DocumentKind.CREDIT_MEMO:
        lines = _as_credit_lines(lines)
    before = document.grand_total
    if customer is not None and customer.pk != document.customer_id:
        _check_customer_change(document)
        document.customer = customer
    header = {"date": date, "billing_terms": billing_terms or None, "description": description}
    header.update(reason=reason, note=note)
    for name, value in header.items():
        if value is not None:
            setattr(document, name, value)
    document.due_date = BillingTerms.due_date(document.billing_terms, document.date)
    document.updated_by = by
    built = _build_lines(document, lines)
    _set_totals(document, built)
    _check_credit_total(document)
    document.save()
    document.lines.all().delete()
    DocumentLine.objects.bulk_create(built)
    changed = kind_action(document, "changed")
    audit(by, changed, document, document.grand_total, total_before=str(before))
    return document


def _check_customer_change(document: Document) -> None:
    """A draft paid on (Method 2) or made from an invoice keeps its customer."""
    taken = [
        *document.earmarked_payments.exclude(status=DocumentStatus.VOID),
        *document.refunds_prepared_on.exclude(status=DocumentStatus.VOID),
    ]
    numbers = ", ".join(d.number for d in sorted(taken, key=lambda d: (d.date, d.pk), reverse=True))
    if numbers:
        raise ValidationError(
            {
                "customer": f"Payments were taken on {document.number} ({numbers}); "
                "it stays with their customer."
            },
            code="earmarked_customer",
        )
    if document.source_invoice_id:
        raise ValidationError(
            {
                "customer": f"{document.number} was made from "
                f"{document.source_invoice.number}; it stays with that invoice's customer."
            },
            code="memo_customer",
        )


def posting_legs(document: Document, *, lines=None, fingerprint=None) -> list[Leg]:
    """The entry posting `document` writes: A/R for the grand total against each line's
    account and Sales Tax Payable. Works for either sign, so a credit memo (negative
    lines) debits its accounts and credits A/R. `lines` are its lines if the caller read
    them (with items and their accounts); `fingerprint` as in
    ledger.selectors.system_accounts."""
    memo = f"{document.title} {document.number}"
    if document.is_money:
        # A payment: Dr Bank (or Card Clearing), Cr A/R. A refund: Dr A/R, Cr the same.
        cash_role = PaymentMethod.cash_account_role(document.method)
        return transfer_legs(
            SystemRole.RECEIVABLE,
            cash_role,
            document.grand_total,
            customer_id=document.customer_id,
            memo=memo,
            fingerprint=fingerprint,
        )
    accounts = system_accounts(
        SystemRole.RECEIVABLE,
        SystemRole.SALES_TAX,
        SystemRole.SALES_RETURNS,
        fingerprint=fingerprint,
    )
    rows = [(accounts[SystemRole.RECEIVABLE], document.customer_id, document.grand_total)]
    if lines is None:
        lines = _lines_for_posting([document], full_accounts=True).get(document.pk, [])
    for line in lines:
        if document.kind == DocumentKind.CREDIT_MEMO:
            account = line.credit_account or accounts[SystemRole.SALES_RETURNS]
        else:
            account = line.income_account
        rows.append((account, None, -line.extended_amount))
        if line.tax_amount:
            rows.append((accounts[SystemRole.SALES_TAX], None, -line.tax_amount))
    return build_legs(rows, memo=memo)


# --- posting: one rule for a single post and for "Post selected" -----------------------------


def _lock_for_posting(ids) -> dict[int, Document]:
    """Lock the documents `ids` and every document posting them may touch (a payment's
    planned invoices and the invoice it was taken on; an invoice's earmarked payments), in
    ONE statement, ids ascending, each with its customer (only the documents are locked)."""
    ids = sorted(set(ids))
    related = (
        Q(pk__in=ids)
        | Q(earmarked_for_id__in=ids, kind=DocumentKind.PAYMENT)
        | Q(pk__in=PlannedApplication.objects.filter(payment_id__in=ids).values("invoice_id"))
        | Q(pk__in=Document.objects.filter(pk__in=ids).values("earmarked_for_id"))
    )
    rows = (
        Document.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(related)
        .order_by("pk")
    )
    return {doc.pk: doc for doc in rows}


@dataclass(frozen=True)
class PostingLine:
    """What posting reads of a line: its amounts and the accounts its item posts to."""

    document_id: int
    extended_amount: Decimal
    tax_amount: Decimal
    income_account: Account | None
    credit_account: Account | None


def _lines_for_posting(documents, *, full_accounts: bool = False) -> dict[int, list[PostingLine]]:
    """The lines of `documents` (not payments or refunds) as posting reads them, in one
    query of plain values (no model per line); {document id: lines in order}. Accounts
    are id-only instances (all an entry line needs) unless `full_accounts` (the preview
    shows codes and names: one more query)."""
    ids = [d.pk for d in documents if not d.is_money]
    found: dict[int, list[PostingLine]] = {pk: [] for pk in ids}
    if not ids:
        return found
    rows = list(
        DocumentLine.objects.filter(document_id__in=ids)
        .order_by("document_id", "position", "id")
        .values_list(
            "document_id",
            "extended_amount",
            "tax_amount",
            "item__income_account_id",
            "item__credit_account_id",
        )
    )
    account_ids = {pk for row in rows for pk in row[3:] if pk is not None}
    if full_accounts:
        accounts = Account.objects.in_bulk(account_ids)
    else:
        accounts = {pk: Account(pk=pk) for pk in account_ids}
    for doc_id, extended, tax, income, credit in rows:
        found[doc_id].append(
            PostingLine(doc_id, extended, tax, accounts.get(income), accounts.get(credit))
        )
    return found


def _postable(document: Document, by, lines, state, expected_version=None) -> list[Leg]:
    """Whether a locked draft may be posted now, for a single post and for each draft of a
    batch alike: the policy (a draft, by a Poster), unchanged since the caller saw it
    (`expected_version`), lines, its date in the business dates and an open period, and
    a balanced entry. Returns the entry's legs; raises the reason otherwise."""
    enforce(by, Act.POST, document)
    if expected_version is not None and document.version != expected_version:
        raise InvoicingError(
            f"{document.number} was changed by someone else since you opened this page; "
            "check it and select it again.",
            code="stale",
        )
    if not document.is_money and not lines:
        raise InvoicingError("A document needs at least one line to be posted.", code="no_lines")
    check_business_date(document.date, closed=state.closed)
    ensure_period_open(document.date, state)
    legs = posting_legs(document, lines=lines, fingerprint=state.accounts)
    _check_legs(legs)
    return legs


def _posting_memo(document: Document) -> str:
    return f"{document.title} {document.number} — {document.customer.name}"


def _posted_action(document: Document):
    return kind_action(document, "released" if document.kind == DocumentKind.REFUND else "posted")


def _post_claim(by, key: str, kwargs) -> Claim:
    """The key names the document posted from the start (no UPDATE afterwards)."""
    return Claim(result=Document, result_pk=kwargs["document"].pk)


@service("document_post", needs=Action.POST, claim=_post_claim)
def document_post(*, document: Document, by, claim: Claim | None = None) -> Document:
    """Post a draft invoice, credit memo or payment: one balanced entry dated with the
    document's date; the document is locked from then on. Refunds are released instead.
    The returned document carries `post_notes`: what posting set in motion could not do
    in full (a planned invoice paid meanwhile).

    At most 8 statements for a draft that sets nothing in motion (PostgreSQL), whatever
    its lines: the key, one locking SELECT (with the customer), its lines, the settings
    (closed date and the accounts' fingerprint), the entry, its lines, the document's
    posted columns, both audit rows."""
    docs = _lock_for_posting([document.pk])
    document = docs[document.pk]
    state = posting_state()
    lines = _lines_for_posting([document]).get(document.pk, [])
    legs = _postable(document, by, lines, state)
    document = _post(document, by, legs=legs, state=state)
    notes = _after_post(document, docs, by)
    if len(docs) > 1:  # posting applied something: read the balances it wrote
        document.refresh_from_db()
    document.post_notes = notes
    return document


def _post(document: Document, by, *, legs=None, state=None) -> Document:
    """Write the posting entry of a locked draft and mark it posted (its audit row and
    the entry's in one INSERT)."""
    if state is None:
        state = posting_state()
        check_business_date(document.date, closed=state.closed)
    events: list = []
    entry = post_entry(
        document,
        by,
        memo=_posting_memo(document),
        legs=legs if legs is not None else posting_legs(document, fingerprint=state.accounts),
        state=state,
        audit_into=events,
        balance_due=document.grand_total,
        updated_by=by,
    )
    events.append(
        audit_row(
            by, _posted_action(document), document, document.grand_total, journal_entry=entry.pk
        )
    )
    audit_write(events)
    return document


def void_undo_list(document: Document) -> list[str]:
    """What "Unapply all and void" would undo first, in words (the confirmation lists it)."""
    undo = []
    for app in Application.objects.filter(
        Q(target=document) | Q(source=document), removed_at__isnull=True
    ).select_related("target", "source"):
        other = app.source if app.target_id == document.pk else app.target
        undo.append(f"Unapply {app.amount:,.2f} with {other.number}")
    for app in document.deposit_applications.filter(removed_at__isnull=True).select_related(
        "deposit"
    ):
        undo.append(f"Unapply {app.amount:,.2f} of deposit {app.deposit.number}")
    return undo


@service("document_void", needs=Action.VOID, dated="The void date")
def document_void(
    *, document: Document, by, date: datetime.date | None = None, unapply_all: bool = False
) -> Document:
    """Void a posted document: the exact reverse of its entry, dated `date` (default today).
    Refused while anything is applied, reserved or pending against it; with `unapply_all`
    its applications (those made by hand and by earmarks) and deposit applications are
    removed first, in the same transaction."""
    date = date or timezone.localdate()
    apps = list(
        Application.objects.filter(
            Q(target=document) | Q(source=document),
            removed_at__isnull=True,
            origin__in=[ApplicationOrigin.MANUAL, ApplicationOrigin.EARMARK],
        )
    )
    deposit_apps = list(document.deposit_applications.filter(removed_at__isnull=True))
    ids = [document.pk, *(a.target_id for a in apps), *(a.source_id for a in apps)]
    docs = _lock_in_order(ids)
    document = docs[document.pk]
    _lock_deposits(a.deposit_id for a in deposit_apps)
    # Under the locks: what is still applied (someone may have unapplied meanwhile; that
    # needn't be undone again). Anything applied since the read above is refused below.
    apps = list(Application.objects.filter(pk__in=[a.pk for a in apps], removed_at__isnull=True))
    deposit_apps = list(
        DepositApplication.objects.filter(
            pk__in=[a.pk for a in deposit_apps], removed_at__isnull=True
        )
    )
    if document.status != DocumentStatus.POSTED:
        enforce(by, Act.VOID, document)
    message = "The void date can't be before the document's date."
    date_not_before(date, document.date, message, code="void_before_date")
    if unapply_all:
        for app in apps:
            _credit_unapply(app, by, date, system=True)
        for app in deposit_apps:
            _deposit_unapply(app, by, date, system=True)
        document.refresh_from_db()
    enforce(by, Act.VOID, document)
    reversal = journal_entry_reverse(
        entry=document.posting_entry,
        date=date,
        by=by,
        memo=f"Void of {document.title} {document.number}",
    )
    mark_void(document, by, date, void_entry=reversal, balance_due=ZERO)
    voided = kind_action(document, "voided")
    audit(by, voided, document, document.grand_total, journal_entry=reversal.pk)
    return document


@service("document_cancel", needs=Action.EDIT_DRAFTS)
def document_cancel_draft(*, document: Document, by) -> Document:
    """Void a draft that was never posted. Nothing reached the ledger, so nothing is
    reversed; the number stays used so the sequence has no gaps."""
    document = _lock(document)
    if document.status == DocumentStatus.POSTED and not document.is_money:
        raise PostedDocumentLocked()
    enforce(by, Act.CANCEL, document)
    mark_void(document, by, timezone.localdate())
    audit(by, kind_action(document, "draft cancelled"), document, document.grand_total)
    return document
