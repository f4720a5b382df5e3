"""Line and document arithmetic, rounded the ledger/ACCOUNTING.md way: once per line's extended
amount and once per line's tax; totals are sums of rounded lines."""

from dataclasses import dataclass
from decimal import Decimal

from ledger.money import ZERO, round_money, to_decimal

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class LineAmounts:
    extended: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    tax: Decimal
    grand_total: Decimal


def line_amounts(
    *, quantity, unit_price, unit_adjustment, tax_rate, extended=None, tax=None
) -> LineAmounts:
    """A line's extended amount (quantity × (price − adjustment)) and tax, each rounded
    once. `extended` and `tax`, when given, are amounts fixed by the caller instead (see
    `credit_line_amounts`)."""
    if extended is None:
        quantity = to_decimal(quantity)
        net_price = to_decimal(unit_price) - to_decimal(unit_adjustment or ZERO)
        extended = quantity * net_price
    extended = round_money(extended)
    if tax is None:
        tax = extended * to_decimal(tax_rate) / HUNDRED
    return LineAmounts(extended=extended, tax=round_money(tax))


def _capped(credit: Decimal, remaining: Decimal) -> Decimal:
    """`credit` (signed like the invoice line) but never beyond what `remaining` (same
    sign convention) still leaves, and never past zero."""
    if credit == 0 or abs(credit) <= remaining * (1 if credit > 0 else -1):
        return credit
    return remaining if remaining * credit > 0 else ZERO


def credit_line_amounts(
    *,
    quantity,
    unit_price,
    unit_adjustment,
    tax_rate,
    remaining_extended,
    remaining_tax,
    takes_last: bool,
) -> LineAmounts:
    """The amounts of a credit memo line that credits `quantity` (positive) of an invoice
    line, signed opposite to it (as memo lines are stored). `remaining_extended` and
    `remaining_tax` are what the line's other non-void memos leave uncredited, signed like
    the invoice line.

    The line that takes the last of the quantity gets exactly what remains, so the memos
    of a line add up to the line to the cent (two halves of 1 × 10.01 are 5.01 and 5.00,
    not 5.01 twice). Any other gets quantity × price, rounded, but never more than remains.
    """
    remaining_extended = round_money(remaining_extended)
    remaining_tax = round_money(remaining_tax)
    if takes_last:
        return LineAmounts(extended=-remaining_extended, tax=-remaining_tax)
    computed = line_amounts(
        quantity=to_decimal(quantity),
        unit_price=unit_price,
        unit_adjustment=unit_adjustment,
        tax_rate=tax_rate,
    )
    extended = _capped(computed.extended, remaining_extended)
    tax = _capped(round_money(extended * to_decimal(tax_rate) / HUNDRED), remaining_tax)
    return LineAmounts(extended=-extended, tax=-tax)


def document_totals(lines: list[LineAmounts]) -> Totals:
    subtotal = sum((line.extended for line in lines), ZERO)
    tax = sum((line.tax for line in lines), ZERO)
    return Totals(subtotal=subtotal, tax=tax, grand_total=subtotal + tax)
