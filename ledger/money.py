"""Money's one home: parsing, rounding (half-up, cents), formatting.

Never `float`: every function here refuses one.
"""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_DIGITS = 14
DECIMAL_PLACES = 2

MAX_WHOLE_DIGITS = MAX_DIGITS - DECIMAL_PLACES  # 12
QUANTITY_PLACES = 4
QUANTITY_WHOLE_DIGITS = 8  # DecimalField(max_digits=12, decimal_places=4)

# Plain decimal notation only: ASCII digits 0-9, optional thousands commas, optional
# fraction. Exponents ("1e6"), NaN and Infinity are not amounts anyone types on purpose,
# and neither are other scripts' digits ("٣", "１２"), which Python's \d and Decimal accept.
_PLAIN_NUMBER = re.compile(r"^[+-]?([0-9]{1,3}(,[0-9]{3})+|[0-9]+)?(\.[0-9]*)?$", re.ASCII)

NUMBER_MESSAGE = "Enter a number, like 1,234.50."
ASCII_DIGITS_MESSAGE = "Type the number with the digits 0-9, like 1,234.50."


class NotPlainNumber(ValueError):
    """What a person typed isn't a plain decimal number; `message` says why."""

    def __init__(self, text, message: str = NUMBER_MESSAGE):
        super().__init__(text)
        self.message = message


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
    """Parse what a person typed ("1,234.50", "-3", ".5"); NotPlainNumber (a ValueError)
    if it isn't a plain number in ASCII digits."""
    cleaned = (text or "").strip().replace(" ", "")
    if cleaned.startswith("$"):
        cleaned = cleaned[1:]
    if not cleaned.isascii():
        raise NotPlainNumber(text, ASCII_DIGITS_MESSAGE)
    if not cleaned or cleaned in {"+", "-", "."} or not _PLAIN_NUMBER.match(cleaned):
        raise NotPlainNumber(text)
    try:
        return Decimal(cleaned.replace(",", ""))
    except InvalidOperation as exc:  # pragma: no cover - the regex already rules this out
        raise NotPlainNumber(text) from exc


def _clean_number(value, *, field: str, places: int, whole_digits: int, what: str) -> Decimal:
    """A Decimal with at most `places` decimals and `whole_digits` digits before the point,
    from a Decimal, an int or a plain ASCII string; ValidationError({field: …}) otherwise."""
    from django.core.exceptions import ValidationError

    def refuse(message: str, code: str):
        return ValidationError({field: ValidationError(message, code=code)})

    if value is None or value == "":
        raise refuse(f"Enter {what}.", "required")
    if isinstance(value, float):
        # A float has already lost the cents it was meant to carry (0.1 + 0.2).
        raise refuse(f"{what.capitalize()} must be an exact decimal, not a float.", "float")
    if isinstance(value, bool):
        raise refuse(NUMBER_MESSAGE, "invalid")
    if isinstance(value, str):
        try:
            value = parse_plain_decimal(value)
        except NotPlainNumber as exc:
            raise refuse(exc.message, "invalid") from None
    elif isinstance(value, int):
        value = Decimal(value)
    elif not isinstance(value, Decimal):
        raise refuse(NUMBER_MESSAGE, "invalid")
    if not value.is_finite():
        raise refuse(NUMBER_MESSAGE, "invalid")
    if abs(value) >= Decimal(10) ** whole_digits:
        raise refuse(
            f"That's too large (at most {whole_digits} digits before the decimal point).",
            "max_whole_digits",
        )
    step = Decimal(1).scaleb(-places)
    if value != value.quantize(step):
        raise refuse(f"Use at most {places} decimal places.", "max_decimal_places")
    return value.quantize(step)


def clean_amount(value, *, field: str = "amount", positive: bool = True) -> Decimal:
    """Validate an amount a service was given: an exact Decimal (or int, or plain ASCII
    string) with at most 2 decimal places and 12 digits before the point; above zero when
    `positive`. Returns it quantized to cents; raises ValidationError({field: message}).

    Services call it whatever the caller, so 10.005 never becomes 10.00 on SQLite and
    10.01 on PostgreSQL."""
    from django.core.exceptions import ValidationError

    amount = _clean_number(
        value, field=field, places=DECIMAL_PLACES, whole_digits=MAX_WHOLE_DIGITS, what="an amount"
    )
    if positive and amount <= 0:
        raise ValidationError(
            {field: ValidationError("Enter an amount above zero.", code="not_positive")}
        )
    return amount


def clean_quantity(value, *, field: str = "quantity") -> Decimal:
    """Validate a quantity: an exact Decimal with at most 4 decimal places and 8 digits
    before the point (the quantity column). Returns it quantized to 4 places."""
    return _clean_number(
        value,
        field=field,
        places=QUANTITY_PLACES,
        whole_digits=QUANTITY_WHOLE_DIGITS,
        what="a quantity",
    )


def format_money(value, *, blank_zero: bool = False) -> str:
    """Two decimals, thousands separators, negatives as -250.00."""
    if value is None or value == "":
        return ""
    amount = round_money(value)
    if blank_zero and amount == 0:
        return ""
    return f"{amount:,.2f}"
