"""Issue 10, findings 11 and 13: what counts as an amount or a quantity, for forms and for
services alike (ledger/money.py `parse_plain_decimal`, `clean_amount`, `clean_quantity`;
ledger/forms.py MoneyField and QuantityField). ASCII digits only; never a float; at most
2 decimal places for money and 4 for quantities."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from ledger.forms import MoneyField, QuantityField
from ledger.money import (
    ASCII_DIGITS_MESSAGE,
    NotPlainNumber,
    clean_amount,
    clean_quantity,
    parse_plain_decimal,
)

D = Decimal
OTHER_DIGITS = ["٣", "١٢", "１２", "1٢.50", "۳", "१२", "12.５0", "１,２３４.５０"]


@pytest.mark.parametrize("typed", OTHER_DIGITS)
def test_parse_plain_decimal_takes_ascii_digits_only(typed):
    """Arabic-Indic, Devanagari and fullwidth digits are digits to Python's \\d and to
    Decimal(); they are not what an amount is typed with."""
    with pytest.raises(NotPlainNumber) as exc:
        parse_plain_decimal(typed)
    assert exc.value.message == ASCII_DIGITS_MESSAGE
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize("field", [MoneyField, QuantityField])
@pytest.mark.parametrize("typed", OTHER_DIGITS)
def test_money_and_quantity_fields_refuse_other_scripts_digits(field, typed):
    """The form fields every money and quantity input uses say why, next to the field."""
    with pytest.raises(ValidationError) as exc:
        field().clean(typed)
    assert exc.value.messages == ["Type the number with the digits 0-9, like 1,234.50."]


def test_ascii_input_still_parses():
    assert MoneyField().clean("1,234.50") == D("1234.50")
    assert QuantityField().clean("12") == D("12")
    assert parse_plain_decimal("$ 3") == D("3")


# --- clean_amount: what a money-taking service accepts, whoever calls it ---------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (D("10.005"), "Use at most 2 decimal places."),
        ("10.005", "Use at most 2 decimal places."),
        (D("0.001"), "Use at most 2 decimal places."),
        (10.5, "An amount must be an exact decimal, not a float."),
        (0.1, "An amount must be an exact decimal, not a float."),
        (D("NaN"), "Enter a number, like 1,234.50."),
        (D("Infinity"), "Enter a number, like 1,234.50."),
        (D("-Infinity"), "Enter a number, like 1,234.50."),
        ("1e6", "Enter a number, like 1,234.50."),
        ("١٢", ASCII_DIGITS_MESSAGE),
        ("１２.００", ASCII_DIGITS_MESSAGE),
        (D("1000000000000"), "That's too large (at most 12 digits before the decimal point)."),
        (D("1E+20"), "That's too large (at most 12 digits before the decimal point)."),
        (None, "Enter an amount."),
        (True, "Enter a number, like 1,234.50."),
        ([1], "Enter a number, like 1,234.50."),
        (D("0"), "Enter an amount above zero."),
        (D("-5.00"), "Enter an amount above zero."),
    ],
)
def test_clean_amount_refuses_what_is_not_an_exact_amount(value, message):
    """Each refusal is a ValidationError on the amount's field, with a message."""
    with pytest.raises(ValidationError) as exc:
        clean_amount(value)
    assert exc.value.message_dict == {"amount": [message]}


def test_clean_amount_names_the_field_it_was_given():
    with pytest.raises(ValidationError) as exc:
        clean_amount(D("1.001"), field="amount_7")
    assert exc.value.message_dict == {"amount_7": ["Use at most 2 decimal places."]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (D("10.00"), "10.00"),
        (D("10.000"), "10.00"),  # same value, more zeros: fine
        (D("10"), "10.00"),
        (10, "10.00"),
        ("1,234.50", "1234.50"),
        (D("999999999999.99"), "999999999999.99"),
    ],
)
def test_clean_amount_returns_the_amount_in_cents(value, expected):
    result = clean_amount(value)
    assert result == D(expected) and result.as_tuple().exponent == -2


def test_clean_amount_allows_zero_and_negative_when_asked():
    assert clean_amount(D("-250.00"), field="unit_price", positive=False) == D("-250.00")
    assert clean_amount(D("0"), positive=False) == D("0.00")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (D("1.00001"), "Use at most 4 decimal places."),
        (1.5, "A quantity must be an exact decimal, not a float."),
        ("٣", ASCII_DIGITS_MESSAGE),
        (D("NaN"), "Enter a number, like 1,234.50."),
        (D("100000000"), "That's too large (at most 8 digits before the decimal point)."),
    ],
)
def test_clean_quantity_refuses_what_the_quantity_column_cannot_hold(value, message):
    with pytest.raises(ValidationError) as exc:
        clean_quantity(value)
    assert exc.value.message_dict == {"quantity": [message]}


def test_clean_quantity_keeps_four_decimals():
    assert clean_quantity(D("0.3333")) == D("0.3333")
    assert clean_quantity(D("-2")) == D("-2.0000")
