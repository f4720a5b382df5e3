"""What every invoicing service stands on: document numbers, line inputs and totals, row
locks in one fixed order, the shape of a service (`service`: permission, cleaning, date
check, run once per form key), money documents, and the audit and void stamps they share.

Nothing here imports another services module; they all import this one.
"""

import datetime
import functools
import inspect
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from config.roles import require
from invoicing.allocator import Allocation
from invoicing.exceptions import POSTED_LOCKED_MESSAGE, InvoicingError
from invoicing.models import (
    ApplicationBatch,
    Deposit,
    Document,
    DocumentKind,
    DocumentLine,
    DocumentSequence,
    DocumentStatus,
    Item,
    PaymentMethod,
    TaxProfile,
)
from invoicing.policies import enforce
from invoicing.pricing import LineAmounts, document_totals, line_amounts
from ledger.idempotency import run_once
from ledger.models import SystemRole
from ledger.money import ZERO, clean_amount
from ledger.selectors import books_closed_through, system_accounts
from ledger.services import (
    AuditAction,
    Leg,
    audit_event,
    audit_log,
    build_legs,
    check_business_date,
    journal_entry_post,
)

SEQUENCE_PREFIX = {
    DocumentKind.INVOICE: "INV-",
    DocumentKind.CREDIT_MEMO: "CM-",
    DocumentKind.PAYMENT: "PMT-",
    DocumentKind.REFUND: "RFD-",
    DocumentKind.DEPOSIT: "DEP-",
}
TOO_LARGE = Decimal("1e12")


# --- the shape of a service -----------------------------------------------------------------


def service(
    scope: str, needs=None, dated: str | None = None, *, clean=None, claim=None, **run_once_args
):
    """Make `work(*, by, …)` a service taking the same keywords plus `key`: one transaction
    that checks `require(by, needs)`, cleans the keywords named in `clean` ({name:
    cleaner}), refuses a `date` outside the business dates (`dated` names it in the
    message), then runs `work` once per form key (ledger.idempotency.run_once, `scope`;
    `store`/`load` pass through). `work` gets `key` too if it takes one, and stays
    callable as `<service>.work`. `claim(by, key, kwargs)` gives a
    ledger.idempotency.Claim made with the key's claim, passed to `work` as `claim`."""

    def decorate(work):
        takes_key = "key" in inspect.signature(work).parameters

        @functools.wraps(work)
        @transaction.atomic
        def run(*, by, key: str = "", **kwargs):
            if needs is not None:
                require(by, needs)
            for name, cleaner in (clean or {}).items():
                kwargs[name] = cleaner(kwargs.get(name))
            if dated is not None:
                check_business_date(kwargs.get("date"), what=dated)
            if takes_key:
                kwargs["key"] = key
            if claim is not None:
                return run_once(
                    key=key,
                    scope=scope,
                    by=by,
                    work=lambda claimed: work(by=by, claim=claimed, **kwargs),
                    claim=claim(by, key, kwargs),
                    **run_once_args,
                )
            return run_once(
                key=key, scope=scope, by=by, work=lambda: work(by=by, **kwargs), **run_once_args
            )

        run.work = work  # the work alone, for a service that calls another inside its own
        return run

    return decorate


AMOUNT = {"amount": clean_amount}  # `clean=` of a service taking an amount


def date_not_before(date: datetime.date | None, not_before: datetime.date, message: str, code=None):
    """`date` (default today), refused with `message` on the date field when it is
    before `not_before`."""
    date = date or timezone.localdate()
    if date < not_before:
        raise ValidationError({"date": message}, code=code)
    return date


def clean_allocations(allocations) -> list[Allocation]:
    """Allocation amounts as a service accepts them: exact, at most 2 decimal places
    (the sign and the limits are the allocator's to check). Blank amounts are dropped."""
    return [
        replace(a, amount=clean_amount(a.amount, field=f"amount_{a.document.pk}", positive=False))
        for a in allocations or ()
        if a.amount is not None
    ]


def check_money_in(method: str, amount, *, what: str) -> None:
    """A payment's or deposit's method and amount."""
    if method not in dict(PaymentMethod.for_payments()):
        raise ValidationError({"method": f"Choose how the {what}."})
    check_positive(amount)


def check_positive(amount) -> None:
    if amount is None or amount <= 0:
        raise ValidationError({"amount": "Enter an amount above zero."})


# --- entries ----------------------------------------------------------------------------


CUSTOMER_ROLES = {SystemRole.RECEIVABLE, SystemRole.DEPOSITS}


def transfer_legs(
    debit: str, credit: str, amount, *, customer_id: int, memo: str, fingerprint=None
) -> list[Leg]:
    """Dr the account holding system role `debit`, Cr the one holding `credit`, by
    `amount` (either sign); a line on A/R or Customer Deposits names the customer.
    `fingerprint` as in ledger.selectors.system_accounts."""
    accounts = system_accounts(debit, credit, fingerprint=fingerprint)
    rows = [
        (accounts[role], customer_id if role in CUSTOMER_ROLES else None, signed)
        for role, signed in ((debit, amount), (credit, -amount))
    ]
    return build_legs(rows, memo=memo)


def post_entry(obj, by, *, memo: str, legs: list[Leg], state=None, audit_into=None, **fields):
    """Write the posting entry of a locked draft document or deposit, dated with it, and
    stamp it posted (with `fields`), saving only the columns posting changes; returns the
    entry. `state` and `audit_into` go to journal_entry_post."""
    entry = journal_entry_post(
        date=obj.date,
        memo=memo,
        legs=legs,
        by=by,
        source=obj,
        source_ref=obj.number,
        state=state,
        audit_into=audit_into,
    )
    stamp_posted(obj, by, entry, **fields)
    obj.save(update_fields=posted_fields(obj, fields))
    return entry


def stamp_posted(obj, by, entry, **fields) -> None:
    """Mark `obj` posted by `entry` in memory (with `fields`)."""
    fields.update(posting_entry=entry, posted_by=by, posted_at=timezone.now())
    obj.status = DocumentStatus.POSTED
    for name, value in fields.items():
        setattr(obj, name, value)


def posted_fields(obj, fields) -> list[str]:
    """The columns posting writes: the stamps, `fields`, and any auto_now column."""
    auto = [f.name for f in obj._meta.concrete_fields if getattr(f, "auto_now", False)]
    return ["status", "posting_entry", "posted_by", "posted_at", *fields, *auto]


def _new_deposit(**fields) -> Deposit:
    """A deposit, numbered in the deposits' sequence."""
    return Deposit.objects.create(number=_next_number(DocumentKind.DEPOSIT), **fields)


# --- audit and void stamps -------------------------------------------------------------------


def audit(by, action: AuditAction, target, amount=None, **detail):
    """An audit event naming `target` by its number."""
    return audit_log(
        by=by, action=action, target=target, target_ref=target.number, amount=amount, **detail
    )


def audit_row(by, action: AuditAction, target, amount=None, **detail):
    """`audit`'s event, not yet saved (for ledger.services.audit_write)."""
    return audit_event(
        by=by, action=action, target=target, target_ref=target.number, amount=amount, **detail
    )


def kind_action(document: Document, verb: str) -> AuditAction:
    """ "invoice posted", "credit memo voided", "payment recorded", … for `document`."""
    return AuditAction(f"{document.get_kind_display().lower()} {verb}")


def mark_void(document: Document, by, date: datetime.date, **fields) -> None:
    """Stamp a document void (who, when, as of `date`) and save it."""
    document.status = DocumentStatus.VOID
    document.voided_by = by
    document.voided_at = timezone.now()
    document.void_date = date
    document.updated_by = by
    for name, value in fields.items():
        setattr(document, name, value)
    document.save()


# --- numbers, lines and totals -------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    item: Item
    quantity: Decimal
    unit_price: Decimal
    tax_profile: TaxProfile
    description: str = ""
    unit_adjustment: Decimal = ZERO
    source_line: DocumentLine | None = None
    # A credit memo line copies the rate its invoice line was charged, not today's rate.
    tax_rate: Decimal | None = None
    # Fixed amounts instead of quantity × price (the credit memo line that takes the last
    # of an invoice line gets exactly what remains of it); None computes them.
    extended_amount: Decimal | None = None
    tax_amount: Decimal | None = None

    @property
    def rate(self) -> Decimal:
        return self.tax_rate if self.tax_rate is not None else self.tax_profile.rate


def _next_number(kind: str) -> str:
    """Take the next number of a kind. The sequence row stays locked until the caller's
    transaction commits, so concurrent creators get distinct, consecutive numbers."""
    seq = DocumentSequence.objects.select_for_update().filter(kind=kind).first()
    if seq is None:
        DocumentSequence.objects.get_or_create(
            kind=kind, defaults={"prefix": SEQUENCE_PREFIX[kind]}
        )
        seq = DocumentSequence.objects.select_for_update().get(kind=kind)
    seq.last_number += 1
    seq.save(update_fields=["last_number"])
    return f"{seq.prefix}{seq.last_number:06d}"


def _build_lines(document: Document, lines: list[LineInput]) -> list[DocumentLine]:
    built = []
    for position, line in enumerate(lines, start=1):
        amounts = line_amounts(
            quantity=line.quantity,
            unit_price=line.unit_price,
            unit_adjustment=line.unit_adjustment,
            tax_rate=line.rate,
            extended=line.extended_amount,
            tax=line.tax_amount,
        )
        built.append(
            DocumentLine(
                document=document,
                position=position,
                item=line.item,
                description=line.description or line.item.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                unit_adjustment=line.unit_adjustment or ZERO,
                tax_profile=line.tax_profile,
                tax_rate=line.rate,
                extended_amount=amounts.extended,
                tax_amount=amounts.tax,
                source_line=line.source_line,
            )
        )
    return built


def _set_totals(document: Document, built: list[DocumentLine]) -> None:
    totals = document_totals([LineAmounts(line.extended_amount, line.tax_amount) for line in built])
    document.subtotal = totals.subtotal
    document.tax_total = totals.tax
    document.grand_total = totals.grand_total
    # Lines are stored in the same 14-digit columns, and lines that cancel out (+N and −N)
    # can overflow them while the totals stay small.
    for line in built:
        if abs(line.extended_amount) >= TOO_LARGE or abs(line.tax_amount) >= TOO_LARGE:
            raise InvoicingError(
                f"Line {line.position}'s amount is too large (at most 999,999,999,999.99).",
                code="too_large",
            )
    for field in ("subtotal", "tax_total", "grand_total"):
        if abs(getattr(document, field)) >= TOO_LARGE:
            raise InvoicingError(
                "The document's total is too large (at most 999,999,999,999.99).", code="too_large"
            )


def _check_lines(lines: list[LineInput]) -> None:
    if not lines:
        raise InvoicingError("Add at least one line.", code="no_lines")


def _as_credit_lines(lines: list[LineInput]) -> list[LineInput]:
    """A credit memo's lines are negative, as Spectra enters them: a line typed as a
    positive amount (2 × 250.00) is stored negative (−2 × 250.00); one typed the aACE way
    (1 × −250.00) is already negative and is kept."""
    normalized = []
    for line in lines:
        # A line made from an invoice line is already signed against it (a discount
        # line's credit is positive).
        if (
            line.source_line is None
            and line.quantity * (line.unit_price - (line.unit_adjustment or ZERO)) > 0
        ):
            line = replace(line, quantity=-line.quantity)
        normalized.append(line)
    return normalized


def _check_credit_total(document: Document) -> None:
    if document.kind == DocumentKind.CREDIT_MEMO and document.grand_total >= 0:
        raise InvoicingError("A credit memo needs a total below zero.", code="credit_not_negative")


def locked_message(document: Document) -> str:
    if document.kind == DocumentKind.CREDIT_MEMO:
        return "Posted credit memos can't be changed — void it and make a new one."
    return POSTED_LOCKED_MESSAGE


# --- locks: documents (ascending ids) before deposits (ascending ids) -----------------------


def _lock(document: Document) -> Document:
    return Document.objects.select_for_update().get(pk=document.pk)


def _lock_in_order(ids, *, with_closed: bool = False) -> dict[int, Document]:
    """Lock documents in ascending id order in one statement, so two users locking
    overlapping sets queue instead of deadlocking; callers read balances only from the
    rows returned. `with_closed`: each row also carries `books_closed` (the books-closed
    date, read by the same statement)."""
    docs = Document.objects.select_for_update().filter(pk__in=sorted(set(ids))).order_by("pk")
    if with_closed:
        docs = docs.annotate(books_closed=books_closed_through())
    return {doc.pk: doc for doc in docs}


def _set_balances(documents) -> None:
    """Write the `balance_due` of `documents` (locked, changed in memory) in one statement:
    on PostgreSQL an UPDATE … FROM unnest(ids, balances); elsewhere bulk_update."""
    documents = list({d.pk: d for d in documents}.values())
    if not documents:
        return
    if connection.vendor != "postgresql":
        Document.objects.bulk_update(documents, ["balance_due"])
        return
    table = Document._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS d SET balance_due = v.balance "  # noqa: S608 - our table
            "FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, balance) WHERE d.id = v.id",
            [[d.pk for d in documents], [d.balance_due for d in documents]],
        )


def _lock_deposits(ids) -> dict[int, Deposit]:
    """Deposits are locked after documents (one fixed order), ascending, in one statement."""
    rows = Deposit.objects.select_for_update().filter(pk__in=sorted(set(ids))).order_by("pk")
    return {d.pk: d for d in rows}


def _lock_deposit(deposit: Deposit) -> Deposit:
    return _lock_deposits([deposit.pk])[deposit.pk]


def _new_batch(by, key: str = "") -> ApplicationBatch:
    return ApplicationBatch.objects.create(key=key or uuid.uuid4().hex, created_by=by)


# --- removing an application (of a credit or of a deposit) ----------------------------------


def check_removal(application, by, date: datetime.date, *, system: bool, act) -> None:
    """May `application` (locked) be removed as of `date`: a person's removal is the
    policy's to allow; the system's needs it still active. Never dated outside the
    business dates, nor before the application."""
    if not system:
        enforce(by, act, application)
    elif not application.is_active:
        raise InvoicingError("That application was already removed.", code="already_removed")
    check_business_date(date, what="The removal date")
    if date < application.date:
        raise InvoicingError(
            "The removal can't be dated before the application.", code="before_application"
        )


def mark_removed(application, by, date: datetime.date, **fields) -> None:
    application.removed_on = date
    application.removed_by = by
    application.removed_at = timezone.now()
    for name, value in fields.items():
        setattr(application, name, value)
    application.save(update_fields=["removed_on", "removed_by", "removed_at", *fields])


# --- money documents: payments and refunds --------------------------------------------------


def money(*, amount, method, date, reference="", memo="") -> dict:
    """What a payment, deposit or refund says about the money: passed on as one."""
    return {"amount": amount, "method": method, "date": date, "reference": reference, "memo": memo}


def _money_document(*, kind, customer, by, amount, method, date, reference, memo, **extra):
    """A payment (negative: the customer's credit until applied) or a refund (positive:
    it pays a credit back), numbered like every document and audited; `money()` gives
    amount, method, date, reference and memo."""
    sign = -1 if kind == DocumentKind.PAYMENT else 1
    document = Document.objects.create(
        kind=kind,
        number=_next_number(kind),
        customer=customer,
        date=date,
        billing_terms=customer.billing_terms,
        due_date=date,
        description=memo
        or f"{DocumentKind(kind).label} by {PaymentMethod(method).label}"
        + (f" #{reference}" if reference else ""),
        method=method,
        reference=reference,
        subtotal=sign * amount,
        grand_total=sign * amount,
        created_by=by,
        updated_by=by,
        **extra,
    )
    verb = "recorded" if sign < 0 else "prepared"
    audit(by, kind_action(document, verb), document, amount, method=method, reference=reference)
    return document
