"""No lost updates on customers (issue 10, item 11): two people open the same customer, the
first saves, and the second save, based on what it loaded before, is refused with "Changed
by <user> at <time> since you opened it", keeps what was typed, saves nothing and offers to
reload. A `version` column, sent back by the form as a hidden field, is checked and bumped
under the row lock."""

import html

import pytest
from django.urls import reverse
from django.utils import dateformat, timezone

from customers import services
from customers.exceptions import StaleCustomerEdit
from customers.models import Customer
from ledger.models import AuditEvent
from tests.factories import CustomerFactory
from tests.helpers import client_for
from tests.html_forms import form_data

pytestmark = pytest.mark.django_db


def changed_by(customer: Customer) -> str:
    customer.refresh_from_db()
    when = dateformat.format(timezone.localtime(customer.updated_at), "m/d/Y H:i")
    return f"Changed by {customer.updated_by} at {when} since you opened it."


def test_second_save_of_a_customer_is_refused_and_keeps_what_was_typed(alice, bob):
    """Alice and Bob open the same customer; Alice saves; Bob's save, based on the page he
    loaded before, answers 409 with "Changed by alice at … since you opened it", shows his
    input again, links to the fresh edit page, and saves nothing of his."""
    customer = CustomerFactory(
        code="ACME", name="Acme", phone="555-0100", created_by=alice, updated_by=alice
    )
    url = reverse("customers:edit", args=[customer.pk])
    a, b = client_for(alice), client_for(bob)
    page_a, page_b = a.get(url), b.get(url)
    assert form_data(page_b, "customer-form")["version"] == "1"

    assert (
        a.post(url, dict(form_data(page_a, "customer-form"), name="Acme Rockets")).status_code
        == 302
    )
    response = b.post(
        url, dict(form_data(page_b, "customer-form"), phone="555-0199", city="Bobtown")
    )

    assert response.status_code == 409
    content = response.content.decode()
    assert html.escape(changed_by(customer)) in content
    assert "Changed by alice at " in changed_by(customer)
    assert 'value="555-0199"' in content and 'value="Bobtown"' in content
    assert f'href="{url}">Reload the latest version</a>' in content
    customer.refresh_from_db()
    assert customer.name == "Acme Rockets"
    assert customer.phone == "555-0100" and customer.city == ""
    assert customer.updated_by == alice and customer.version == 2
    assert AuditEvent.objects.filter(action="customer changed").count() == 1

    # Reloading gives the fresh page; saving from it works.
    fresh = b.get(url)
    assert form_data(fresh, "customer-form")["version"] == "2"
    assert b.post(url, dict(form_data(fresh, "customer-form"), phone="555-0199")).status_code == 302
    customer.refresh_from_db()
    assert customer.name == "Acme Rockets" and customer.phone == "555-0199"
    assert customer.version == 3


def test_customer_update_with_an_old_version_raises_and_changes_nothing(alice, bob):
    customer = CustomerFactory(name="Acme", created_by=alice, updated_by=alice)
    services.customer_update(customer=customer, by=alice, name="Acme Rockets", expected_version=1)

    with pytest.raises(StaleCustomerEdit) as exc:
        services.customer_update(customer=customer, by=bob, phone="555-0199", expected_version=1)

    assert exc.value.code == "stale"
    assert exc.value.messages == [changed_by(customer)]
    assert exc.value.changed_by == alice
    customer.refresh_from_db()
    assert customer.phone == "" and customer.version == 2 and customer.updated_by == alice


def test_customer_update_with_the_current_version_saves_and_bumps_it(alice, bob):
    """A save based on the current version works and bumps the version, so the version it
    was based on is stale afterwards; a save that changes nothing leaves it alone."""
    customer = CustomerFactory(name="Acme", created_by=alice, updated_by=alice)
    assert customer.version == 1

    saved = services.customer_update(customer=customer, by=bob, name="Acme 2", expected_version=1)

    assert saved.version == 2
    customer.refresh_from_db()
    assert customer.name == "Acme 2" and customer.version == 2 and customer.updated_by == bob
    with pytest.raises(StaleCustomerEdit):
        services.customer_update(customer=customer, by=alice, name="Acme 3", expected_version=1)
    unchanged = services.customer_update(
        customer=customer, by=alice, name="Acme 2", expected_version=2
    )
    assert unchanged.version == 2
    saved = services.customer_update(customer=customer, by=alice, name="Acme 3", expected_version=2)
    assert saved.version == 3 and saved.name == "Acme 3"
