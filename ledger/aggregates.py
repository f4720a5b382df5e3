"""Sums of money that come back as `Decimal` rounded to cents, on SQLite and PostgreSQL.

SQLite keeps decimals as floating point and sums them as floats: ten invoices of 0.10 and
a credit of −1.00 sum to −1.1e-16, which Django hands back as Decimal('-1.1E-16') — not
zero, though it prints as 0.00. Every aggregate over money in selectors and checks goes
through `money_sum` (or `as_money` around a subquery or expression), so:

- in SQL the value is ROUND(…, 2), and a comparison made in the database (HAVING
  debits <> credits) compares cents, not float noise;
- in Python it is a Decimal quantized to cents (0.00, never None, for `money_sum`).

Quantities (four decimals) get the same treatment through `quantity_sum`.
"""

from decimal import ROUND_HALF_UP, Context, Decimal

from django.db.models import DecimalField, Func, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from ledger.money import DECIMAL_PLACES, QUANTITY_PLACES, ZERO

# Room for sums of many 14-digit amounts.
MONEY_SUM_FIELD = DecimalField(max_digits=18, decimal_places=DECIMAL_PLACES)
QUANTITY_SUM_FIELD = DecimalField(max_digits=18, decimal_places=QUANTITY_PLACES)
_FLOAT_CONTEXT = Context(prec=15)  # what SQLite's floats hold


class Rounded(Func):
    """ROUND(expression, places) in SQL; a Decimal quantized to `places` in Python."""

    function = "ROUND"
    template = "%(function)s(%(expressions)s, %(places)s)"

    def __init__(self, expression, *, places: int, **extra):
        self.places = places
        output_field = DecimalField(max_digits=18, decimal_places=places)
        super().__init__(expression, places=int(places), output_field=output_field, **extra)

    def convert_value(self, value, expression, connection):
        return None if value is None else rounded(value, self.places)


def rounded(value, places: int = DECIMAL_PLACES) -> Decimal:
    """A number the database returned (a float on SQLite, a Decimal or int elsewhere) as a
    Decimal quantized to `places` — for raw SQL sums; the ORM's go through `Rounded`."""
    if isinstance(value, float):
        value = _FLOAT_CONTEXT.create_decimal_from_float(value)
    elif not isinstance(value, Decimal):
        value = Decimal(value)
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def as_money(expression) -> Rounded:
    """Any money expression (a Subquery, a Coalesce, F() arithmetic) rounded to cents."""
    return Rounded(expression, places=DECIMAL_PLACES)


def money_sum(expression, **extra) -> Rounded:
    """SUM of a money column or expression: a Decimal rounded to cents, 0.00 over no rows.
    `extra` (e.g. filter=Q(…)) goes to Sum."""
    return as_money(Coalesce(Sum(expression, **extra), Value(ZERO), output_field=MONEY_SUM_FIELD))


def money_subquery(subquery) -> Rounded:
    """A Subquery returning one money value (a grouped sum), rounded; 0.00 when no row."""
    return as_money(Coalesce(subquery, Value(ZERO), output_field=MONEY_SUM_FIELD))


def quantity_sum(expression, **extra) -> Rounded:
    """SUM of a quantity (four decimals): a Decimal rounded to 4 places, 0 over no rows."""
    return Rounded(
        Coalesce(Sum(expression, **extra), Value(Decimal(0)), output_field=QUANTITY_SUM_FIELD),
        places=QUANTITY_PLACES,
    )


def grouped_money_subquery(rows, group: str, expression="amount") -> Rounded:
    """The sum of `expression` over `rows` (a queryset filtered on an OuterRef), grouped
    by `group`, as a rounded money subquery: `.annotate(x=grouped_money_subquery(…))`."""
    total = rows.order_by().values(group).annotate(total=Sum(expression)).values("total")
    return money_subquery(Subquery(total, output_field=MONEY_SUM_FIELD))
