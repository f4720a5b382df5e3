"""Line and document arithmetic, rounded the accounting.md way: once per line's extended
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


def line_amounts(*, quantity, unit_price, unit_adjustment, tax_rate) -> LineAmounts:
    quantity = to_decimal(quantity)
    net_price = to_decimal(unit_price) - to_decimal(unit_adjustment or ZERO)
    extended = round_money(quantity * net_price)
    tax = round_money(extended * to_decimal(tax_rate) / HUNDRED)
    return LineAmounts(extended=extended, tax=tax)


def document_totals(lines: list[LineAmounts]) -> Totals:
    subtotal = sum((line.extended for line in lines), ZERO)
    tax = sum((line.tax for line in lines), ZERO)
    return Totals(subtotal=subtotal, tax=tax, grand_total=subtotal + tax)
