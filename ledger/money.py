"""Money's one home: parsing, rounding (half-up, cents) and splitting without losing a cent.

Never `float`: every function here refuses one.
"""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_DIGITS = 14
DECIMAL_PLACES = 2

# Plain decimal notation only: digits, optional thousands commas, optional fraction.
# Exponents ("1e6"), NaN and Infinity are not amounts anyone types on purpose.
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)?(\.\d*)?$")


def to_decimal(value) -> Decimal:
    if isinstance(value, float):
        raise TypeError("Money is never a float; pass a Decimal, int or string.")
    if isinstance(value, Decimal):
        return value
    return Decimal(value)


def round_money(value) -> Decimal:
    """Round once, half-up, to cents."""
    return to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def parse_plain_decimal(text: str) -> Decimal:
    """Parse what a person typed ("1,234.50", "-3", ".5"); ValueError if it isn't a number."""
    cleaned = (text or "").strip().replace(" ", "")
    if cleaned.startswith("$"):
        cleaned = cleaned[1:]
    if not cleaned or cleaned in {"+", "-", "."} or not _PLAIN_NUMBER.match(cleaned):
        raise ValueError(text)
    try:
        return Decimal(cleaned.replace(",", ""))
    except InvalidOperation as exc:  # pragma: no cover - the regex already rules this out
        raise ValueError(text) from exc


def split(amount, weights) -> list[Decimal]:
    """Split `amount` across `weights` in proportion, in cents, summing exactly to `amount`.

    Largest-remainder method: each share is rounded down to the cent, then the cents left
    over go one by one to the shares that lost the most in rounding (ties: first first).
    """
    amount = round_money(amount)
    weights = [to_decimal(w) for w in weights]
    if not weights:
        raise ValueError("split needs at least one weight")
    total_weight = sum(weights)
    if total_weight == 0:
        raise ValueError("split needs weights that don't sum to zero")
    sign = -1 if amount < 0 else 1
    cents = int(abs(amount) / CENT)
    raw = [Decimal(cents) * w / total_weight for w in weights]
    floors = [int(r) for r in raw]
    leftover = cents - sum(floors)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - floors[i]), i))
    for i in order[:leftover]:
        floors[i] += 1
    return [sign * Decimal(c) * CENT for c in floors]


def format_money(value, *, blank_zero: bool = False) -> str:
    """Two decimals, thousands separators, negatives as -250.00."""
    if value is None or value == "":
        return ""
    amount = round_money(value)
    if blank_zero and amount == 0:
        return ""
    return f"{amount:,.2f}"
