"""Customers: list, search, create, edit, validation, audit, demo data."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.models import Customer
from ledger.models import AuditEvent, IdempotencyKey
from tests.factories import CustomerFactory, make_invoice

pytestmark = pytest.mark.django_db

VALID = {
    "code": "acme",
    "name": "Acme Rocket Supply",
    "billing_contact": "Wile E. Coyote",
    "email": "wile@acme.example",
    "phone": "555-0100",
    "address_line1": "1 Desert Road",
    "address_line2": "",
    "city": "Tucson",
    "state": "AZ",
    "postal_code": "85701",
    "billing_terms": "net_30",
    "delivery": "email",
    "notes": "",
    "is_active": "on",
}


def test_rep_creates_a_customer_and_the_change_is_audited(rep_client, rep):
    """The form saves a customer (code upper-cased), records who created it, and audits it."""
    response = rep_client.post(reverse("customers:create"), VALID)
    customer = Customer.objects.get(code="ACME")
    assert response.status_code == 302
    assert response["Location"] == customer.get_absolute_url()
    assert customer.created_by == rep and customer.updated_by == rep
    event = AuditEvent.objects.get(action="customer created")
    assert event.actor == rep and event.target_ref == "ACME"


def test_editing_a_customer_records_what_changed(rep_client, rep, poster):
    """An edit stores the new values, who changed them, and an audit event listing the changes."""
    customer = CustomerFactory(code="ACME", name="Acme", created_by=poster, updated_by=poster)
    data = dict(VALID, name="Acme Rockets", billing_terms="net_60")
    response = rep_client.post(reverse("customers:edit", args=[customer.pk]), data)
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.name == "Acme Rockets" and customer.billing_terms == "net_60"
    assert customer.created_by == poster and customer.updated_by == rep
    event = AuditEvent.objects.get(action="customer changed")
    assert event.detail["changes"]["name"] == ["Acme", "Acme Rockets"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "This field is required."),
        ("name", "   ", "This field is required."),
        ("email", "not-an-email", "Enter a valid email address."),
        ("code", "", "This field is required."),
        ("billing_terms", "net_90", "Select a valid choice."),
    ],
)
def test_bad_input_shows_the_error_next_to_the_field_and_saves_nothing(
    rep_client, field, value, message
):
    """Each invalid field gets its message rendered beside it (id_<field>_error); no row is saved."""
    response = rep_client.post(reverse("customers:create"), dict(VALID, **{field: value}))
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="id_{field}_error"' in html
    assert message in html
    assert Customer.objects.count() == 0


def test_duplicate_code_is_refused(rep_client):
    """A second customer with the same code (case-insensitively typed) is refused."""
    CustomerFactory(code="ACME")
    response = rep_client.post(reverse("customers:create"), dict(VALID, code="acme"))
    assert response.status_code == 400
    assert "Customer with this Code already exists." in response.content.decode()
    assert 'id="id_code_error"' in response.content.decode()
    assert Customer.objects.count() == 1


def test_list_searches_code_name_and_email_and_filters_active(rep_client):
    """Search matches code, name or email; the Active filter hides inactive customers."""
    CustomerFactory(code="MSD", name="Montboro School District", email="ed@montboro.example")
    CustomerFactory(code="HARB", name="Harbor Light", email="ap@harbor.example")
    CustomerFactory(code="OLDM", name="Old Mill", is_active=False)
    url = reverse("customers:list")
    assert "Montboro" in rep_client.get(url, {"q": "msd"}).content.decode()
    assert "Harbor" not in rep_client.get(url, {"q": "msd"}).content.decode()
    assert "Harbor Light" in rep_client.get(url, {"q": "harbor.example"}).content.decode()
    active = rep_client.get(url, {"is_active": "true"}).content.decode()
    assert "Old Mill" not in active and "Harbor Light" in active


def test_list_is_sortable_and_paginated(rep_client):
    """25 customers a page, ordered by the column the rep clicks."""
    for i in range(30):
        CustomerFactory(code=f"K{i:02d}", name=f"Name {i:02d}")
    page1 = rep_client.get(reverse("customers:list"), {"sort": "-code"}).content.decode()
    assert "K29" in page1 and "K00" not in page1
    page2 = rep_client.get(reverse("customers:list"), {"sort": "-code", "page": 2}).content.decode()
    assert "K00" in page2


def test_empty_list_says_so(rep_client):
    """No customers: an empty state rather than an empty table."""
    assert "No customers match" in rep_client.get(reverse("customers:list")).content.decode()


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_customer_list_costs_the_same_queries_for_5_and_50_customers(rep_client, rep, poster):
    """The list's query count doesn't grow with the number of customers (A/R balance included)."""
    for _ in range(5):
        c = CustomerFactory()
        make_invoice(customer=c, by=rep, post_by=poster)
    url = reverse("customers:list") + "?per_page=100"
    small = _queries(rep_client, url)
    for _ in range(45):
        c = CustomerFactory()
        make_invoice(customer=c, by=rep, post_by=poster)
    assert _queries(rep_client, url) == small


def test_customer_list_shows_a_r_balance(rep_client, rep, poster):
    """Each row shows the customer's A/R Balance from posted documents."""
    c = CustomerFactory(name="Balance Co")
    make_invoice(customer=c, by=rep, post_by=poster)  # 100.00
    make_invoice(customer=c, by=rep)  # a draft doesn't count
    html = rep_client.get(reverse("customers:list")).content.decode()
    assert "100.00" in html


def test_detail_page_shows_summary_and_address(rep_client, rep, poster):
    """The customer page shows its Summary (A/R Balance), bill-to address and documents."""
    c = CustomerFactory(
        name="Montboro School District",
        billing_contact="Erica Dawson",
        address_line1="1498 Lakeshore Drive",
        city="Montboro",
        state="CO",
        postal_code="80508",
    )
    doc = make_invoice(customer=c, by=rep, post_by=poster)
    html = rep_client.get(c.get_absolute_url()).content.decode()
    assert "Erica Dawson" in html and "Montboro, CO 80508" in html
    assert 'id="ar-balance">100.00<' in html
    assert doc.number in html


def test_unknown_customer_is_a_404(rep_client):
    assert rep_client.get(reverse("customers:detail", args=[999999])).status_code == 404
    assert rep_client.get(reverse("customers:edit", args=[999999])).status_code == 404


def test_seed_demo_is_deterministic_and_idempotent(db):
    """seed_demo loads Montboro School District as in the aACE example; a second run adds nothing."""
    call_command("seed_demo")
    msd = Customer.objects.get(name="Montboro School District")
    assert (msd.billing_contact, msd.address_line1, msd.city, msd.state, msd.postal_code) == (
        "Erica Dawson",
        "1498 Lakeshore Drive",
        "Montboro",
        "CO",
        "80508",
    )
    assert msd.get_billing_terms_display() == "Net 30"
    counts = (Customer.objects.count(), msd.documents.count())
    call_command("seed_demo")
    assert (Customer.objects.count(), msd.documents.count()) == counts
    assert counts[0] >= 5


def test_seed_demo_has_payments_refunds_and_deposits_in_several_states(db):
    """The demo shows a paid invoice, an overpayment, a pending refund, and deposits that are
    partly applied, held, refunded and still a draft; Montboro's history is paid."""
    from invoicing.models import Deposit, Document, DocumentKind
    from ledger.checks import run_all

    call_command("seed_demo")
    harbor = Document.objects.get(customer__code="HARB", description="Studio rental, October")
    assert harbor.is_posted and harbor.balance_due == 0
    overpayment = IdempotencyKey.objects.get(key="demo-cedar-1").result
    assert overpayment.kind == DocumentKind.PAYMENT and overpayment.balance_due < 0
    pending = IdempotencyKey.objects.get(key="demo-brks-refund").result
    assert pending.status_label == "Pending"
    states = {
        (d.status, d.remaining == d.amount, d.remaining == 0)
        for d in Deposit.objects.filter(customer__code__in=["LUNA", "NWLAW"])
    }
    assert ("draft", False, True) in states  # waiting to be posted
    assert ("posted", True, False) in states  # held
    assert ("posted", False, True) in states  # used up (applied or refunded)
    msd_history = Document.objects.filter(
        customer__code="MSD", kind=DocumentKind.INVOICE, date__year__lt=2026
    )
    assert all(doc.balance_due == 0 for doc in msd_history)
    assert all(r.ok for r in run_all())
