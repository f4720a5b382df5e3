"""Issue 10, finding 12 (ledger side): one allowed range of business dates — after the
books-closed date, no later than today + BUSINESS_DATE_HORIZON_DAYS (ledger/ACCOUNTING.md
"Business dates") — checked by ledger.services.check_business_date, by the form field
ledger.forms.BusinessDateField, and by journal_entry_post whatever its caller."""

import datetime
from decimal import Decimal

import pytest
from django import forms
from django.core.exceptions import ValidationError

from customers.models import BillingTerms
from ledger.exceptions import PeriodClosed
from ledger.forms import BusinessDateField
from ledger.models import Account, JournalEntry
from ledger.services import (
    Leg,
    business_date_range,
    check_business_date,
    journal_entry_post,
)
from tests.helpers import close_books, today

pytestmark = pytest.mark.django_db
D = Decimal
FIRST, LAST = datetime.date(1, 1, 1), datetime.date(9999, 12, 31)


def legs():
    bank, sales = Account.objects.get(code="1000"), Account.objects.get(code="4000")
    return [Leg(account=bank, debit=D("1.00")), Leg(account=sales, credit=D("1.00"))]


class DateForm(forms.Form):
    date = BusinessDateField(what="The payment date")


# --- check_business_date ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date", "message"),
    [
        (FIRST, "The date can't be before 01/01/2000."),
        (datetime.date(1999, 12, 31), "The date can't be before 01/01/2000."),
        (LAST, "The date can't be later than {latest} (365 days from today)."),
    ],
)
def test_dates_outside_the_range_are_refused_on_the_field(date, message):
    latest = today() + datetime.timedelta(days=365)
    with pytest.raises(ValidationError) as exc:
        check_business_date(date)
    assert exc.value.message_dict == {"date": [message.format(latest=f"{latest:%m/%d/%Y}")]}


def test_the_horizon_day_is_allowed_and_the_day_after_is_not():
    horizon = today() + datetime.timedelta(days=365)
    assert check_business_date(horizon) == horizon
    assert check_business_date(today()) == today()
    with pytest.raises(ValidationError):
        check_business_date(horizon + datetime.timedelta(days=1))


def test_the_horizon_is_a_setting(settings):
    settings.BUSINESS_DATE_HORIZON_DAYS = 10
    assert business_date_range()[1] == today() + datetime.timedelta(days=10)
    check_business_date(today() + datetime.timedelta(days=10))
    with pytest.raises(ValidationError, match=r"\(10 days from today\)"):
        check_business_date(today() + datetime.timedelta(days=11), field="void_date")


def test_a_closed_date_is_refused_with_the_books_closed_message():
    close_books(datetime.date(2026, 10, 31))
    with pytest.raises(PeriodClosed) as exc:
        check_business_date(datetime.date(2026, 10, 31), field="when")
    assert exc.value.message_dict == {
        "when": [
            "The books are closed through 10/31/2026; choose a date after it (got 10/31/2026)."
        ]
    }
    assert check_business_date(datetime.date(2026, 11, 1)) == datetime.date(2026, 11, 1)
    assert business_date_range()[0] == datetime.date(2026, 11, 1)


def test_none_means_the_services_default_of_today():
    assert check_business_date(None) is None


def test_names_the_date_it_refuses():
    with pytest.raises(ValidationError) as exc:
        check_business_date(LAST, field="date", what="The void date")
    assert exc.value.messages[0].startswith("The void date can't be later than")


# --- journal_entry_post --------------------------------------------------------------------


@pytest.mark.parametrize("date", [FIRST, LAST, datetime.date(2030, 1, 1)])
def test_nothing_is_posted_outside_the_range_whatever_the_caller(poster, date):
    with pytest.raises(ValidationError):
        journal_entry_post(date=date, memo="out of range", legs=legs(), by=poster)
    assert not JournalEntry.objects.exists()


def test_an_entry_in_range_is_posted(poster):
    entry = journal_entry_post(date=today(), memo="in range", legs=legs(), by=poster)
    assert entry.pk and entry.date == today()


# --- the form field -----------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["0001-01-01", "9999-12-31", "1999-12-31"])
def test_business_date_field_puts_the_message_next_to_the_field(typed):
    form = DateForm({"date": typed})
    assert not form.is_valid()
    assert list(form.errors) == ["date"]
    assert form.errors["date"][0].startswith("The payment date can't be")


def test_business_date_field_shows_the_closed_books_message():
    close_books(datetime.date(2026, 11, 15))
    form = DateForm({"date": "2026-11-15"})
    assert not form.is_valid()
    assert form.errors["date"] == [
        "The books are closed through 11/15/2026; choose a date after it (got 11/15/2026)."
    ]


def test_business_date_field_takes_ascii_digits_only():
    form = DateForm({"date": "٢٠٢٦-١١-١٠"})
    assert not form.is_valid()
    assert form.errors["date"] == ["Enter a valid date."]


def test_business_date_field_accepts_today_and_renders_a_date_input():
    form = DateForm({"date": today().isoformat()})
    assert form.is_valid(), form.errors
    assert 'type="date"' in str(form["date"])


# --- due dates never overflow ---------------------------------------------------------------


@pytest.mark.parametrize("terms", [t.value for t in BillingTerms])
def test_due_date_of_the_last_day_does_not_overflow(terms):
    assert BillingTerms.due_date(terms, LAST) == LAST
    assert BillingTerms.due_date(terms, datetime.date(2026, 11, 2)) >= datetime.date(2026, 11, 2)
