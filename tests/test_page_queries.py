"""Every desk page costs at most 8 queries, the same with 10 rows as with 10,000 (issue
14): the listings (hub, Payments & Refunds, Deposits, Customers), the customer page and the
pages of an invoice, a credit memo, a payment, a refund and a deposit. The data comes from
`invoicing.seeding.seed` (bulk, rules-respecting); the same documents are measured before
and after 9,990 more invoices are written. Also: roles are read with one groups query
(no permission look-ups), listings count their rows once, the customer filter never reads
every customer, and a document's long sections are paged."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config.roles import Action, user_may, user_roles
from customers.models import Customer
from invoicing import services
from invoicing.allocator import Allocation
from invoicing.models import Document, DocumentKind
from invoicing.seeding import seed
from invoicing.selectors import open_invoices
from tests.factories import CustomerFactory, line, make_invoice, make_user
from tests.invoicing.books import fast_password_hashing  # noqa: F401

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

LIMIT = 8


def queries(client, url, **params) -> tuple[int, list[str]]:
    client.get(url, params)  # warm per-process caches (content types) outside the count
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200, url
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


def one_of_each(rep, poster) -> dict[str, object]:
    """Documents whose pages have every section filled: an invoice with a credit memo
    applied, a deposit applied and a payment earmarked... (through the services)."""
    customer = CustomerFactory()
    day = datetime.date(2026, 11, 10)
    invoice = make_invoice(customer=customer, by=rep, post_by=poster)
    memo = services.document_create(
        kind=DocumentKind.CREDIT_MEMO,
        customer=customer,
        date=day,
        lines=[line("REW", "-1", "25.00")],
        by=rep,
    )
    memo = services.document_post(document=memo, by=poster)
    services.credit_apply(
        source=memo, allocations=[Allocation(document=invoice, amount=Decimal("10"))], by=rep
    )
    deposit = services.deposit_post(
        deposit=services.deposit_record(
            customer=customer, date=day, method="check", amount=Decimal("50"), by=rep
        ),
        by=poster,
    )
    services.deposit_apply(deposit=deposit, invoice=invoice, amount=Decimal("5"), by=rep)
    payment = services.payment_record(
        customer=customer, by=rep, date=day, method="check", amount=Decimal("500")
    )
    payment = services.document_post(document=payment, by=poster)
    refund = services.refund_prepare(
        document=payment, by=rep, amount=Decimal("20"), method="check", date=day
    )
    return {
        "customer page": customer,
        "invoice": invoice,
        "credit memo": memo,
        "payment": payment,
        "refund": refund,
        "deposit": deposit,
    }


def desk_pages(documents) -> dict[str, str]:
    return {
        "hub": reverse("invoicing:list"),
        "credits": reverse("invoicing:list") + "?type=credits",
        "payments": reverse("payments:list"),
        "deposits": reverse("deposits:list"),
        "customers": reverse("customers:list"),
        **{name: obj.get_absolute_url() for name, obj in documents.items()},
    }


@pytest.mark.django_db
def test_every_desk_page_costs_at_most_8_queries_at_10_and_at_10000_rows(
    rep, poster, poster_client
):
    """At 10 invoices and at 10,000 (with their memos, payments, refunds and deposits),
    each page costs the same number of queries, never more than 8."""
    seed(invoices=9, customers=3, rng_seed=5, audit=False)
    pages = desk_pages(one_of_each(rep, poster))
    assert Document.objects.filter(kind=DocumentKind.INVOICE).count() == 10
    small = {name: queries(poster_client, url)[0] for name, url in pages.items()}

    seed(invoices=9990, customers=300, rng_seed=6, audit=False)
    assert Document.objects.filter(kind=DocumentKind.INVOICE).count() == 10000
    large = {name: queries(poster_client, url)[0] for name, url in pages.items()}
    # A customer with many documents: the same page cost.
    busiest = max(Customer.objects.all()[:50], key=lambda c: c.documents.count())
    assert busiest.documents.count() > 20
    assert queries(poster_client, busiest.get_absolute_url())[0] == small["customer page"]

    assert large == small
    assert max(large.values()) <= LIMIT, large


@pytest.mark.django_db
def test_roles_come_from_one_groups_query_and_no_permission_lookups(rep_client):
    """A listing reads the user's groups once (the top bar and every role check share it)
    and never Django's permission tables."""
    _, sql = queries(rep_client, reverse("invoicing:list"))
    assert sum("auth_group" in q for q in sql) == 1
    assert not any("auth_permission" in q for q in sql)


@pytest.mark.django_db
def test_a_role_given_shows_on_the_next_request(client):
    """The roles are cached per user object: a user fetched again (the next request) sees
    a new group, and changing the groups of the object in hand clears its cache."""
    from django.contrib.auth.models import Group

    user = make_user(None, "newcomer")
    assert user_roles(user) == ()
    user.groups.add(Group.objects.get(name="A/R rep"))
    assert user_roles(user) == ("A/R rep",)
    assert user_may(user, Action.EDIT_DRAFTS) and not user_may(user, Action.POST)
    client.force_login(user)
    assert b'<span class="role">A/R rep</span>' in client.get(reverse("invoicing:list")).content
    user.groups.set([Group.objects.get(name="Poster")])
    page = client.get(reverse("invoicing:list")).content
    assert b'<span class="role">Poster</span>' in page and b"A/R rep" not in page


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", ["invoicing:list", "payments:list", "deposits:list"])
def test_listings_count_once_and_never_read_every_customer(rep_client, url_name):
    """One COUNT per listing, and the customer filter reads no customers (it is a text
    field with suggestions, not a <select> of all of them)."""
    for _ in range(3):
        CustomerFactory()
    _, sql = queries(rep_client, reverse(url_name))
    assert sum("COUNT(" in q.upper() for q in sql) == 1
    assert not any(
        q.lstrip().upper().startswith(("SELECT", "DECLARE"))
        and 'FROM "customers_customer"' in q
        and "JOIN" not in q
        for q in sql
    )
    page = rep_client.get(reverse(url_name)).content.decode()
    assert '<select name="customer"' not in page
    assert 'name="customer"' in page and 'role="combobox"' in page


@pytest.mark.django_db
def test_customer_filter_takes_a_code_a_name_or_an_id(rep, rep_client):
    """Typed without JavaScript and submitted, the customer field filters by the exact code,
    by part of the name, or by the id a link carries; the export keeps it."""
    alpha = CustomerFactory(code="ALP", name="Alpha Prints")
    beta = CustomerFactory(code="BET", name="Beta Bakery")
    a = make_invoice(customer=alpha, by=rep).number
    b = make_invoice(customer=beta, by=rep).number
    url = reverse("invoicing:list")
    for typed in ("ALP", "alp", "pha pri", str(alpha.pk)):
        page = rep_client.get(url, {"customer": typed}).content.decode()
        assert a in page and b not in page, typed
    csv = rep_client.get(url, {"customer": "Beta", "export": "csv"}).content.decode()
    assert b in csv and a not in csv


@pytest.mark.django_db
def test_autocomplete_suggests_at_most_20_customers_code_first(rep_client):
    """The suggestions: the exact code first, then codes starting with the text, then
    names containing it; at most 20, with a note when more match; one query."""
    for i in range(30):
        CustomerFactory(code=f"ZZ{i:02d}", name=f"Zed {i:02d}")
    CustomerFactory(code="ZZ", name="Exactly ZZ")
    url = reverse("customers:search")
    page = rep_client.get(url, {"field": "customer", "customer": "zz"}).content.decode()
    assert page.count('role="option"') == 20
    assert page.index('data-value="ZZ"') < page.index('data-value="ZZ00"')
    assert "More customers match" in page
    assert "No customer matches" in rep_client.get(url, {"q": "nobody"}).content.decode()
    with CaptureQueriesContext(connection) as ctx:
        rep_client.get(
            url, {"q": "zed 1"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="id_customer-options"
        )
    assert sum('"customers_customer"' in q["sql"] for q in ctx.captured_queries) == 1


@pytest.mark.django_db
def test_autocomplete_needs_a_desk_role(client):
    client.force_login(make_user(None, "nobody"))
    assert client.get(reverse("customers:search"), {"q": "a"}).status_code == 403


@pytest.mark.django_db
def test_long_documents_page_their_lines_and_applications(rep, poster, poster_client):
    """An invoice of 250 lines shows 100 a page with Next; a credit applied to 150
    invoices shows 100 applications a page; both cost the same queries as a short one."""
    customer = CustomerFactory()
    many = [line("SVC", "1", "1.00") for _ in range(250)]
    long_invoice = make_invoice(customer=customer, by=rep, lines=many, post_by=poster)
    short = make_invoice(customer=customer, by=rep, post_by=poster)
    page = poster_client.get(long_invoice.get_absolute_url()).content.decode()
    assert page.count("<td>SVC</td>") == 100
    assert "Lines 1–100 of 250" in page and "?lines=2#order-detail" in page
    last = poster_client.get(long_invoice.get_absolute_url(), {"lines": 3}).content.decode()
    assert last.count("<td>SVC</td>") == 50
    assert (
        queries(poster_client, long_invoice.get_absolute_url())[0]
        == queries(poster_client, short.get_absolute_url())[0]
    )

    report = seed(invoices=0, customers=1, open_invoices_for_one=150, audit=False)
    credit = Document.objects.get(pk=report.open_for_one_credit_id)
    targets = list(open_invoices(credit.customer))[:150]
    per = min((credit.usable / len(targets)).quantize(Decimal("0.01")), Decimal("1.00"))
    services.credit_apply(
        source=credit,
        allocations=[Allocation(document=t, amount=per) for t in targets],
        by=poster,
        date=datetime.date.today(),
    )
    page = poster_client.get(credit.get_absolute_url()).content.decode()
    assert "Applications 1–100 of 150" in page
    assert len(page) < 150_000
    assert queries(poster_client, credit.get_absolute_url())[0] <= LIMIT


@pytest.mark.django_db
def test_record_payment_asks_for_the_customer_with_the_autocomplete(rep_client):
    """Record Payment without a customer asks which one with the autocomplete (not a
    <select> of every customer); the code typed (or the id of a link) opens the form."""
    alpha = CustomerFactory(code="ALP", name="Alpha Prints")
    url = reverse("payments:create")
    page = rep_client.get(url).content.decode()
    assert 'role="combobox"' in page and "<select" not in page.split('id="main"')[1]
    assert "Alpha Prints" not in page
    for typed in ("alp", str(alpha.pk)):
        page = rep_client.get(url, {"customer": typed}).content.decode()
        assert "allocation-rows" in page, typed
    page = rep_client.get(url, {"customer": "nobody"}).content.decode()
    assert "No customer has the code “nobody”" in page
