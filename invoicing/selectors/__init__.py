"""Reads of A/R documents: listings, open items, customer balances."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    Case,
    DecimalField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)

from invoicing.models import (
    Application,
    ApplicationBatch,
    Deposit,
    DepositApplication,
    DepositRefund,
    Document,
    DocumentKind,
    DocumentLine,
    DocumentStatus,
)
from ledger.aggregates import money_subquery, money_sum, quantity_sum
from ledger.money import ZERO

_MONEY = DecimalField(max_digits=16, decimal_places=2)
CREDIT_Q = Q(kind=DocumentKind.CREDIT_MEMO) | Q(grand_total__lt=0)


def _earmarked_open_expr():
    """Signed (negative) sum of what payments earmarked for a draft invoice still hold:
    a posted payment's open amount (with what pending refunds reserve), a draft's total."""
    return Case(
        When(status=DocumentStatus.POSTED, then=F("balance_due") + F("reserved")),
        When(status=DocumentStatus.DRAFT, then=F("grand_total")),
        default=Value(ZERO),
        output_field=_MONEY,
    )


def earmarked_total(invoice: Document) -> Decimal:
    return invoice.earmarked_payments.filter(kind=DocumentKind.PAYMENT).aggregate(
        total=money_sum(_earmarked_open_expr())
    )["total"]


def earmarked_open_subquery():
    rows = (
        Document.objects.filter(earmarked_for=OuterRef("pk"), kind=DocumentKind.PAYMENT)
        .order_by()
        .values("earmarked_for")
        .annotate(total=Sum(_earmarked_open_expr()))
        .values("total")
    )
    return money_subquery(Subquery(rows, output_field=_MONEY))


MONEY_KINDS = (DocumentKind.PAYMENT, DocumentKind.REFUND)


def money_documents() -> QuerySet[Document]:
    """Payments and refunds, for the Payments & Refunds listing."""
    return Document.objects.filter(kind__in=MONEY_KINDS).select_related(
        "customer", "refund_of", "created_by", "posted_by"
    )


def money_documents_for(document: Document) -> QuerySet[Document]:
    """Payments and refunds tied to a document: refunds of it, payments earmarked for it
    (Method 2) and refunds drawn through it. Applications are listed separately."""
    return (
        money_documents()
        .filter(Q(refund_of=document) | Q(earmarked_for=document))
        .order_by("date", "id")
    )


def hub_documents() -> QuerySet[Document]:
    """What the Invoices hub lists: invoices and credit memos, plus unapplied payments —
    a customer credit is any document with a negative balance (aACE), so an overpayment
    lists with the credits until it is used."""
    open_payment = Q(kind=DocumentKind.PAYMENT, status=DocumentStatus.POSTED, balance_due__lt=0)
    return document_list().filter(~Q(kind__in=MONEY_KINDS) | open_payment)


def document_list() -> QuerySet[Document]:
    return Document.objects.select_related("customer").annotate(
        earmarked_open=earmarked_open_subquery()
    )


def document_get(pk: int) -> Document:
    return Document.objects.select_related(
        "customer",
        "source_invoice",
        "posted_by",
        "voided_by",
        "created_by",
        "updated_by",
        "posting_entry",
        "void_entry",
    ).get(pk=pk)


def document_lines(document: Document):
    return document.lines.select_related("item", "tax_profile")


def posted_documents() -> QuerySet[Document]:
    return Document.objects.filter(status=DocumentStatus.POSTED)


def customer_documents(customer) -> QuerySet[Document]:
    return document_list().filter(customer=customer).order_by("-date", "-id")


def customer_ar_balance(customer) -> Decimal:
    """Sum of the open amounts of the customer's posted documents; negative when we owe them."""
    return (
        posted_documents()
        .filter(customer=customer)
        .aggregate(total=money_sum("balance_due"))["total"]
    )


def ar_balance_subquery():
    """For annotating customers: `.annotate(ar_balance=ar_balance_subquery())`."""
    per_customer = (
        posted_documents()
        .filter(customer=OuterRef("pk"))
        .order_by()
        .values("customer")
        .annotate(total=Sum("balance_due"))
        .values("total")
    )
    return money_subquery(Subquery(per_customer, output_field=_MONEY))


def open_balances_by_customer() -> dict[int, Decimal]:
    rows = posted_documents().values("customer_id").annotate(total=money_sum("balance_due"))
    return {r["customer_id"]: r["total"] for r in rows}


def _applied_q(as_of: datetime.date | None) -> Q:
    """Applications in force: not removed, or (as of a date) made on or before it and not
    removed by then."""
    if as_of is None:
        return Q(removed_at__isnull=True)
    return Q(date__lte=as_of) & (Q(removed_on__isnull=True) | Q(removed_on__gt=as_of))


def computed_open_amounts(
    *, as_of: datetime.date | None = None, customer=None
) -> dict[int, Decimal]:
    """{document id: open amount} recomputed from totals and applications — the stored
    `balance_due` must equal it (check_ledger), and aging uses it as of any date.

    A document counts from its date until its void date; drafts never count.
    """
    docs = Document.objects.exclude(status=DocumentStatus.DRAFT).exclude(posting_entry=None)
    if customer is not None:
        docs = docs.filter(customer=customer)
    if as_of is not None:
        docs = docs.filter(date__lte=as_of).exclude(void_date__lte=as_of)
    else:
        docs = docs.filter(status=DocumentStatus.POSTED)
    open_amounts = dict(docs.values_list("pk", "grand_total"))
    apps = Application.objects.filter(_applied_q(as_of))
    if customer is not None:
        apps = apps.filter(customer=customer)
    for invoice_id, credit_id, amount in apps.values_list("invoice_id", "credit_id", "amount"):
        if invoice_id in open_amounts:
            open_amounts[invoice_id] -= amount
        if credit_id in open_amounts:
            open_amounts[credit_id] += amount
    deposit_apps = DepositApplication.objects.filter(_applied_q(as_of))
    if customer is not None:
        deposit_apps = deposit_apps.filter(invoice__customer=customer)
    for invoice_id, amount in deposit_apps.values_list("invoice_id", "amount"):
        if invoice_id in open_amounts:
            open_amounts[invoice_id] -= amount
    return open_amounts


def open_amount_as_of(document: Document, as_of: datetime.date) -> Decimal:
    """The document's open amount at the end of `as_of` (0 if it wasn't open then)."""
    if document.status == DocumentStatus.DRAFT or document.posting_entry_id is None:
        return ZERO
    if document.date > as_of or (document.void_date and document.void_date <= as_of):
        return ZERO
    in_force = Application.objects.filter(_applied_q(as_of))
    applied_in = in_force.filter(invoice=document).aggregate(s=money_sum("amount"))["s"]
    applied_out = in_force.filter(credit=document).aggregate(s=money_sum("amount"))["s"]
    deposits_in = DepositApplication.objects.filter(_applied_q(as_of), invoice=document).aggregate(
        s=money_sum("amount")
    )["s"]
    return document.grand_total - applied_in + applied_out - deposits_in


def open_invoices(customer) -> QuerySet[Document]:
    """The customer's posted documents with a positive open amount, oldest due first."""
    return (
        posted_documents()
        .filter(customer=customer, balance_due__gt=0)
        .order_by("due_date", "date", "id")
    )


def open_credits(customer) -> QuerySet[Document]:
    """The customer's posted documents with a negative open amount (credits), oldest first."""
    return (
        posted_documents()
        .filter(customer=customer, balance_due__lt=0)
        .exclude(balance_due=-F("reserved"))
        .order_by("date", "id")
    )


def applications_for(document: Document) -> QuerySet[Application]:
    """Every application touching the document, removed ones included (history)."""
    return (
        Application.objects.filter(Q(invoice=document) | Q(credit=document))
        .select_related("invoice", "credit", "created_by", "removed_by")
        .order_by("date", "id")
    )


def application_batch_done(key: str) -> bool:
    return bool(key) and ApplicationBatch.objects.filter(key=key).exists()


def bad_applications() -> list[str]:
    """Applications that don't pair a positive and a negative posted item of one customer."""
    problems = []
    for app in Application.objects.select_related("invoice", "credit"):
        if not (app.invoice.customer_id == app.credit.customer_id == app.customer_id):
            problems.append(f"application {app.pk} pairs documents of different customers")
        if app.invoice.grand_total <= 0 or app.credit.grand_total >= 0:
            problems.append(f"application {app.pk} doesn't pair a positive and a negative item")
        posted = app.invoice.status == app.credit.status == DocumentStatus.POSTED
        if app.is_active and not posted:
            problems.append(f"application {app.pk} is in force on a document that isn't posted")
    return problems


@dataclass(frozen=True)
class CreditableLine:
    line: DocumentLine
    credited: Decimal  # positive quantity already on other (non-void) credit memos
    remaining: Decimal
    # What those memos already credit of the line's extended amount and tax, signed like
    # the invoice line (memo lines are stored with the opposite sign).
    credited_extended: Decimal = ZERO
    credited_tax: Decimal = ZERO

    @property
    def remaining_extended(self) -> Decimal:
        return self.line.extended_amount - self.credited_extended

    @property
    def remaining_tax(self) -> Decimal:
        return self.line.tax_amount - self.credited_tax


def _credited_by_source_line(memo_lines) -> dict[int, dict[str, Decimal]]:
    """{invoice line id: {"quantity", "extended", "tax"}} credited by `memo_lines`, signed
    like the invoice line (memo lines carry the opposite sign), rounded on every database."""
    rows = memo_lines.values("source_line").annotate(
        quantity=quantity_sum("quantity"),
        extended=money_sum("extended_amount"),
        tax=money_sum("tax_amount"),
    )
    return {
        row["source_line"]: {
            "quantity": -row["quantity"],
            "extended": -row["extended"],
            "tax": -row["tax"],
        }
        for row in rows
    }


def creditable_lines(
    invoice: Document, *, exclude_memo: Document | None = None
) -> list[CreditableLine]:
    """The invoice's lines with what is still creditable: original quantity (and extended
    amount and tax) minus what its non-void credit memos already credit (memo lines are
    stored negative). Lines entered negative (a Method 2 "−1" line) have nothing to
    credit and are left out."""
    memo_lines = DocumentLine.objects.filter(source_line__document=invoice).exclude(
        document__status=DocumentStatus.VOID
    )
    if exclude_memo is not None:
        memo_lines = memo_lines.exclude(document=exclude_memo)
    credited = _credited_by_source_line(memo_lines)
    nothing = {"quantity": ZERO, "extended": ZERO, "tax": ZERO}
    rows = []
    for line in invoice.lines.select_related("item", "tax_profile").order_by("position", "id"):
        if line.quantity <= 0:
            continue
        done = credited.get(line.pk, nothing)
        rows.append(
            CreditableLine(
                line=line,
                credited=done["quantity"],
                remaining=max(line.quantity - done["quantity"], ZERO),
                credited_extended=done["extended"],
                credited_tax=done["tax"],
            )
        )
    return rows


def credit_memo_quantities(memo: Document) -> dict[int, Decimal]:
    """{source invoice line id: positive quantity} of a memo made from an invoice."""
    return {
        line.source_line_id: -line.quantity
        for line in memo.lines.all()
        if line.source_line_id is not None
    }


def creditable_invoices(customer) -> QuerySet[Document]:
    """The customer's invoices a credit memo can be made from (not void, not credits)."""
    return (
        document_list()
        .filter(customer=customer, kind=DocumentKind.INVOICE, grand_total__gt=0)
        .exclude(status=DocumentStatus.VOID)
        .order_by("-date", "-id")
    )


def credit_memos_of(invoice: Document) -> QuerySet[Document]:
    return invoice.credit_memos.order_by("date", "id")


@dataclass(frozen=True)
class OverCreditedLine:
    number: str  # the invoice's
    position: int
    measure: str  # "quantity", "amount" (extended) or "tax"
    invoiced: Decimal
    credited: Decimal

    def __str__(self):
        label = "" if self.measure == "quantity" else f"{self.measure} "
        return (
            f"{self.number} line {self.position}: invoiced {label}{_plain(self.invoiced)}, "
            f"credited {label}{_plain(self.credited)}"
        )


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _exceeds(credited: Decimal, invoiced: Decimal) -> bool:
    """Credited beyond the invoiced amount, in the line's direction (a line entered with a
    negative price is credited with positive memo lines)."""
    if invoiced == 0:
        return credited != 0
    sign = 1 if invoiced > 0 else -1
    return credited * sign > invoiced * sign


def over_credited_lines() -> list[OverCreditedLine]:
    """Invariant 5: every invoice line whose non-void credit memos, together, credit more
    of it than was invoiced — quantity, extended amount or tax."""
    memo_lines = DocumentLine.objects.filter(source_line__isnull=False).exclude(
        document__status=DocumentStatus.VOID
    )
    credited = _credited_by_source_line(memo_lines)
    invoice_lines = DocumentLine.objects.filter(
        pk__in=memo_lines.values("source_line")
    ).values_list("pk", "document__number", "position", "quantity", "extended_amount", "tax_amount")
    problems = []
    for pk, number, position, quantity, extended, tax in invoice_lines.order_by(
        "document__number", "position"
    ):
        done = credited[pk]
        for measure, invoiced, key in (
            ("quantity", quantity, "quantity"),
            ("amount", extended, "extended"),
            ("tax", tax, "tax"),
        ):
            if _exceeds(done[key], invoiced):
                problems.append(OverCreditedLine(number, position, measure, invoiced, done[key]))
    return problems


# --- deposits ---------------------------------------------------------------------------------


def deposit_list() -> QuerySet[Deposit]:
    return Deposit.objects.select_related("customer", "created_by", "posted_by")


def deposit_get(pk: int) -> Deposit:
    return deposit_list().select_related("posting_entry", "source_refund").get(pk=pk)


def deposits_with_usage() -> QuerySet[Deposit]:
    """Deposits annotated with what was used (applied), refunded and is pending refund."""
    used = DepositApplication.objects.filter(deposit=OuterRef("pk"), removed_at__isnull=True)
    refunded = DepositRefund.objects.filter(deposit=OuterRef("pk"), status=DocumentStatus.POSTED)
    pending = DepositRefund.objects.filter(deposit=OuterRef("pk"), status=DocumentStatus.DRAFT)
    return deposit_list().annotate(
        used=_sum_subquery(used, "deposit"),
        refunded=_sum_subquery(refunded, "deposit"),
        pending=_sum_subquery(pending, "deposit"),
    )


def customer_deposits(customer) -> QuerySet[Deposit]:
    """The customer's deposits with amount, used (applied), refunded and remaining."""
    return (
        deposits_with_usage()
        .filter(customer=customer)
        .exclude(status=DocumentStatus.VOID)
        .order_by("-date", "-id")
    )


def _sum_subquery(qs, group: str):
    rows = qs.order_by().values(group).annotate(total=Sum("amount")).values("total")
    return money_subquery(Subquery(rows, output_field=_MONEY))


def customer_deposits_held(customer) -> Decimal:
    return Deposit.objects.filter(customer=customer, status=DocumentStatus.POSTED).aggregate(
        total=money_sum("remaining")
    )["total"]


def deposits_with_remainder(customer) -> QuerySet[Deposit]:
    return Deposit.objects.filter(
        customer=customer, status=DocumentStatus.POSTED, remaining__gt=F("reserved")
    ).order_by("date", "id")


def deposit_applications_for_invoice(invoice: Document) -> QuerySet[DepositApplication]:
    return invoice.deposit_applications.select_related(
        "deposit", "created_by", "removed_by"
    ).order_by("date", "id")


def deposit_remaining_by_customer() -> dict[int, Decimal]:
    rows = (
        Deposit.objects.filter(status=DocumentStatus.POSTED)
        .values("customer_id")
        .annotate(total=money_sum("remaining"))
    )
    return {r["customer_id"]: r["total"] for r in rows}


def deposit_amount_problems() -> list[str]:
    """Each posted deposit's remaining = amount − applied − refunded; reserved = pending refunds."""
    problems = []
    for deposit in deposits_with_usage().filter(status=DocumentStatus.POSTED):
        expected = deposit.amount - deposit.used - deposit.refunded
        if deposit.remaining != expected:
            problems.append(
                f"{deposit.number}: remaining {deposit.remaining} but amount less used and refunded is {expected}"
            )
        if deposit.reserved != deposit.pending:
            problems.append(
                f"{deposit.number}: reserves {deposit.reserved} but pending refunds total {deposit.pending}"
            )
    return problems
