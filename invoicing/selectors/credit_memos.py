"""Credit memos made from invoices: what of each invoice line is still creditable, the
invoices a memo can be made from, a memo's quantities, and the lines credited beyond what
was invoiced (invariant 5)."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from invoicing.models import Document, DocumentKind, DocumentLine, DocumentStatus
from invoicing.selectors.documents import document_list
from ledger.aggregates import money_sum, quantity_sum
from ledger.money import ZERO


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
