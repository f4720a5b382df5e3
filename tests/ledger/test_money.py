"""Money's one home (ledger/money.py, ledger/forms.py): half-up rounding to cents,
amounts shown as ledger/ACCOUNTING.md prescribes, plain-decimal input."""

from decimal import Decimal

import pytest
from django.template import Context, Template

from ledger.forms import MoneyField, QuantityField
from ledger.money import format_money, parse_plain_decimal, round_money

D = Decimal


@pytest.mark.parametrize(
    ("raw", "rounded"),
    [
        ("0.005", "0.01"),
        ("0.125", "0.13"),  # banker's rounding would give 0.12
        ("2.675", "2.68"),
        ("61.875", "61.88"),  # 750.00 at 8.25% tax
        ("20.625", "20.63"),  # 250.00 at 8.25% tax
        ("0.0049", "0.00"),
        ("-0.005", "-0.01"),
        ("-2.345", "-2.35"),
        ("10", "10.00"),
    ],
)
def test_round_money_rounds_half_up_to_cents(raw, rounded):
    """round_money rounds once, half away from zero, to two decimals — never half-even."""
    result = round_money(D(raw))
    assert result == D(rounded)
    assert result.as_tuple().exponent == -2


def test_money_refuses_floats():
    """A float never becomes money: rounding and formatting a float raise."""
    with pytest.raises(TypeError, match="never a float"):
        round_money(0.1)
    with pytest.raises(TypeError):
        format_money(1.5)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (D("-250"), "-250.00"),
        (D("-250.00"), "-250.00"),
        (D("1234567.891"), "1,234,567.89"),
        (D("-1234.5"), "-1,234.50"),
        (D("999"), "999.00"),
        (D("1000"), "1,000.00"),
        (D("0"), "0.00"),
        (0, "0.00"),
        ("12.345", "12.35"),
        (None, ""),
        ("", ""),
    ],
)
def test_format_money_shows_two_decimals_thousands_and_minus_sign(value, shown):
    """Amounts are shown with two decimals, thousands separators and a leading minus sign
    (-250.00), never parentheses or a currency symbol."""
    assert format_money(value) == shown


def test_format_money_can_blank_zero():
    """blank_zero leaves zero amounts empty, for debit/credit columns."""
    assert format_money(D("0.00"), blank_zero=True) == ""
    assert format_money(D("0.004"), blank_zero=True) == ""
    assert format_money(D("-1"), blank_zero=True) == "-1.00"


def test_money_template_filter_uses_the_same_format():
    """The `money` template filter (a builtin) renders amounts the same way."""
    html = Template("{{ a|money }} {{ b|money }}").render(
        Context({"a": D("-250"), "b": D("1234567.8")})
    )
    assert html == "-250.00 1,234,567.80"


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("1,234.50", "1234.50"),
        ("$1,234.50", "1234.50"),
        (" 12 ", "12"),
        ("-3", "-3"),
        (".5", "0.5"),
        ("1,000,000", "1000000"),
    ],
)
def test_parse_plain_decimal_accepts_what_people_type(typed, value):
    """Thousands commas, a leading $, a sign and a bare fraction parse as plain decimals."""
    assert parse_plain_decimal(typed) == D(value)


@pytest.mark.parametrize(
    "typed", ["", "abc", "1e6", "1E6", "NaN", "Infinity", "-inf", "1,23", "12,34.5", "1.2.3", "-"]
)
def test_parse_plain_decimal_refuses_exponents_and_words(typed):
    """Exponents, NaN, Infinity, letters and misplaced commas are not amounts."""
    with pytest.raises(ValueError):
        parse_plain_decimal(typed)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("ten", "Enter a number, like 1,234.50."),
        ("1e6", "Enter a number, like 1,234.50."),
        ("NaN", "Enter a number, like 1,234.50."),
        ("0.001", "Use at most 2 decimal places."),
        ("123456789012345", "That's too large (at most 14 digits)."),
        ("1234567890123", "That's too large (at most 12 digits before the decimal point)."),
    ],
)
def test_money_field_explains_bad_input(typed, message):
    """The money form field refuses letters, exponents, sub-cent amounts and amounts too
    large for the database column, each with a clear message."""
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        MoneyField().clean(typed)
    assert exc.value.messages == [message]


def test_money_and_quantity_fields_accept_plain_amounts():
    """Valid input comes back as an exact Decimal; quantities take four decimals."""
    assert MoneyField().clean("1,234.56") == D("1234.56")
    assert MoneyField().clean("999999999999.99") == D("999999999999.99")
    assert QuantityField().clean("-1") == D("-1")
    assert QuantityField().clean("0.1250") == D("0.1250")
