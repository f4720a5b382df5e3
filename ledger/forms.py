"""Form fields for money and quantities: plain decimals only, clear messages."""

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from ledger.money import parse_plain_decimal


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
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class MoneyField(PlainDecimalField):
    def __init__(self, **kwargs):
        super().__init__(max_digits=14, decimal_places=2, **kwargs)


class QuantityField(PlainDecimalField):
    def __init__(self, **kwargs):
        super().__init__(max_digits=12, decimal_places=4, **kwargs)
