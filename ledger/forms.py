"""Form fields for money, quantities and business dates: plain ASCII decimals only, dates
in the allowed range, clear messages."""

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from ledger.money import NUMBER_MESSAGE, NotPlainNumber, parse_plain_decimal


class PlainDecimalField(forms.DecimalField):
    """A DecimalField that takes what people type ("1,234.50") and refuses exponents,
    NaN and Infinity, which Python's Decimal would otherwise accept ("1e6")."""

    default_error_messages = {
        "invalid": "Enter a number, like 1,234.50.",
        "max_digits": "That's too large (at most %(max)s digits).",
        "max_decimal_places": "Use at most %(max)s decimal places.",
        "max_whole_digits": "That's too large (at most %(max)s digits before the decimal point).",
    }

    def __init__(self, *, max_digits=14, decimal_places=2, **kwargs):
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
        )
        super().__init__(max_digits=max_digits, decimal_places=decimal_places, **kwargs)

    def widget_attrs(self, widget):
        # DecimalField would add step/min attributes meant for <input type=number>.
        return {}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, Decimal):
            return value
        try:
            return parse_plain_decimal(str(value))
        except NotPlainNumber as exc:
            # Other scripts' digits ("٣", "１２") get their own message; the rest "invalid".
            message = (
                exc.message if exc.message != NUMBER_MESSAGE else self.error_messages["invalid"]
            )
            raise ValidationError(message, code="invalid") from None


class MoneyField(PlainDecimalField):
    """An amount of money; `positive=True` refuses zero and negatives next to the field."""

    def __init__(self, *, positive: bool = False, **kwargs):
        self.positive = positive
        super().__init__(max_digits=14, decimal_places=2, **kwargs)

    def validate(self, value):
        super().validate(value)
        if self.positive and value is not None and value <= 0:
            raise ValidationError("Enter an amount above zero.", code="not_positive")


class QuantityField(PlainDecimalField):
    def __init__(self, **kwargs):
        super().__init__(max_digits=12, decimal_places=4, **kwargs)


class BusinessDateField(forms.DateField):
    """A date a document, application, refund or void is dated with: after the books-closed
    date and no later than today + the horizon (ledger/ACCOUNTING.md "Business dates"). Out of
    range gets a message next to the field, before any service runs."""

    def __init__(self, *, what: str = "The date", **kwargs):
        self.what = what
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}))
        super().__init__(**kwargs)

    def to_python(self, value):
        # strptime's %Y takes any script's digits ("٢٠٢٦"); dates are typed in 0-9 too.
        if isinstance(value, str) and not value.isascii():
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)

    def validate(self, value):
        super().validate(value)
        if value in self.empty_values:
            return
        from ledger.services import business_date_error

        error = business_date_error(value, what=self.what)
        if error is not None:
            raise error
