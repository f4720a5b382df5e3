"""The allocation picker of Apply Credit and Record Payment at volume: one page of the
customer's open invoices (oldest due first), searchable by number, amount and date, amounts
typed on other pages kept and counted, "Apply oldest first" over every open invoice, errors
of rows on other pages listed, and a number of queries that doesn't grow with the open
invoices (10 vs 10,000)."""

import datetime
import json
import re
from decimal import Decimal
from functools import partial
from html import unescape
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from invoicing.forms import PICKER_PAGE_SIZE
from invoicing.models import Application, Document
from tests.factories import posted_invoice, posted_memo
from tests.helpers import fresh, ledger_ok
from tests.html_forms import form_data

pytestmark = pytest.mark.django_db
D = Decimal
credit_memo = partial(posted_memo, date=datetime.date(2026, 11, 3), item="SVC", reason="return")


def apply_url(source, query=""):
    return reverse("invoicing:apply", args=[source.pk]) + query


def invoices(customer, n, *, rep, poster, amount="100.00"):
    """`n` real posted invoices, due on consecutive days (oldest first in the list)."""
    return [
        posted_invoice(
            customer,
            amount,
            by=rep,
            post_by=poster,
            date=datetime.date(2026, 9, 1) + datetime.timedelta(days=i),
        )
        for i in range(n)
    ]


def bulk_open_invoices(template: Document, n: int) -> list[int]:
    """`n` more open invoices of the template's customer, copied from a posted one with one
    bulk INSERT (for volume; they have no journal entries, so the books don't tie out),
    due after it, one day apart."""
    rows = []
    for i in range(n):
        rows.append(
            Document(
                kind=template.kind,
                number=f"INV-B{i:07d}",
                customer_id=template.customer_id,
                date=template.date,
                billing_terms=template.billing_terms,
                due_date=template.due_date + datetime.timedelta(days=1 + i // 50),
                description=f"Bulk {i}",
                status=template.status,
                subtotal=template.subtotal,
                grand_total=template.grand_total,
                balance_due=template.balance_due,
                created_by_id=template.created_by_id,
                updated_by_id=template.updated_by_id,
                posted_by_id=template.posted_by_id,
                posted_at=template.posted_at,
            )
        )
    Document.objects.bulk_create(rows, batch_size=2000)
    return list(Document.objects.filter(number__startswith="INV-B").values_list("pk", flat=True))


def fields(html: str, form_id: str) -> dict[str, str]:
    """What the browser would send back from that form of `html`."""
    return form_data(SimpleNamespace(content=html.encode()), form_id)


def carried(html: str) -> dict[int, str]:
    """The amounts the page carries for rows not on screen (its one hidden field)."""
    value = re.search(r'name="carried" value="([^"]*)"', html)[1]
    return {int(pk): raw for pk, raw in json.loads(unescape(value)).items()}


def rows_on(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="row-(\d+)"', html)]


def post(client, source, data, **headers):
    return client.post(apply_url(source), data, **headers)


# --- one page, plain inputs, search ---------------------------------------------------------


def test_the_screen_shows_one_page_of_plain_inputs_oldest_due_first(
    rep_client, rep, poster, customer
):
    """30 open invoices: the first 25 by due date, each with a hand-written input named
    amount_<pk>, labelled "Amount to apply to INV-…", inputmode decimal; a pager says
    1–25 of 30 and page 2 (?page=2, no JavaScript needed) shows the other 5."""
    docs = invoices(customer, 30, rep=rep, poster=poster)
    memo = credit_memo(customer, "500.00", by=rep, post_by=poster)
    html = rep_client.get(apply_url(memo)).content.decode()
    assert rows_on(html) == [d.pk for d in docs[:PICKER_PAGE_SIZE]]
    first = docs[0]
    assert (
        f'<input type="text" name="amount_{first.pk}" value="" id="id_amount_{first.pk}" '
        f'class="amount-input" inputmode="decimal" autocomplete="off" placeholder="0.00" '
        f'aria-label="Amount to apply to {first.number}">'
    ) in html
    assert "1–25 of 30 open invoices" in html
    page2 = rep_client.get(apply_url(memo, "?page=2")).content.decode()
    assert rows_on(page2) == [d.pk for d in docs[25:]]
    assert 'name="page" value="2"' in page2


def test_search_by_number_amount_and_date_with_get_params(rep_client, rep, poster, customer):
    """?q= finds open invoices by a part of the number, by an amount (open or total, with
    thousands separators) and by a date or due date; no match says so."""
    small = posted_invoice(
        customer, "100.00", by=rep, post_by=poster, date=datetime.date(2026, 9, 1)
    )
    big = posted_invoice(
        customer, "1234.50", by=rep, post_by=poster, date=datetime.date(2026, 9, 15)
    )
    memo = credit_memo(customer, "50.00", by=rep, post_by=poster)

    def found(q):
        return rows_on(rep_client.get(apply_url(memo), {"q": q}).content.decode())

    assert found(big.number) == [big.pk]
    assert found(big.number[-3:]) == [big.pk]
    assert found("1,234.50") == [big.pk]
    assert found("100") == [small.pk]
    assert found("09/15/2026") == [big.pk]
    assert found(big.due_date.isoformat()) == [big.pk]
    html = rep_client.get(apply_url(memo), {"q": "INV-999999"}).content.decode()
    assert rows_on(html) == [] and "matches “INV-999999”" in html


# --- amounts typed on other pages ------------------------------------------------------------


def test_amounts_typed_on_two_pages_are_both_applied(rep_client, rep, poster, customer):
    """Type on page 1, go to page 2 (the page-1 amount rides along as a hidden input and
    still counts in the summary), type there, Apply: both rows are applied."""
    docs = invoices(customer, 30, rep=rep, poster=poster)
    memo = credit_memo(customer, "500.00", by=rep, post_by=poster)
    first, late = docs[0], docs[27]
    data = fields(rep_client.get(apply_url(memo)).content.decode(), "apply-form")
    data[f"amount_{first.pk}"] = "60"
    data["goto"] = "2"
    page2 = post(rep_client, memo, data)
    assert page2.status_code == 200
    html = page2.content.decode()
    assert rows_on(html) == [d.pk for d in docs[25:]]
    assert carried(html) == {first.pk: "60"}
    assert 'id="applying">60.00<' in html and 'id="remaining">440.00<' in html
    assert 'id="applying-elsewhere">1 (1 on other pages)<' in html

    data = fields(html, "apply-form")
    data[f"amount_{late.pk}"] = "40"
    data["action"] = "apply"
    assert post(rep_client, memo, data).status_code == 302
    applied = dict(Application.objects.values_list("target_id", "amount"))
    assert applied == {first.pk: D("60.00"), late.pk: D("40.00")}
    assert fresh(memo).balance_due == D("-400.00")
    ledger_ok()


def test_typing_counts_amounts_on_other_pages_in_the_live_summary(
    rep_client, rep, poster, customer
):
    """htmx summary while typing: the hidden amounts of other pages are in Applying and
    Remaining; each visible row gets its new balance out of band."""
    docs = invoices(customer, 30, rep=rep, poster=poster)
    memo = credit_memo(customer, "500.00", by=rep, post_by=poster)
    data = {
        "date": "2026-11-20",
        "key": "k",
        "shown_q": "",
        "page": "1",
        "carried": json.dumps({str(docs[28].pk): "100"}),  # typed on page 2
        f"amount_{docs[0].pk}": "25",
    }
    response = post(
        rep_client, memo, data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="allocation-summary"
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<table" not in html
    assert 'id="applying">125.00<' in html and 'id="remaining">375.00<' in html
    assert f'<span id="newbal-{docs[0].pk}" hx-swap-oob="true">75.00</span>' in html
    assert f"newbal-{docs[28].pk}" not in html


def test_a_search_keeps_the_amounts_typed_before_it(rep_client, rep, poster, customer):
    """htmx search (the list only): the typed rows not found are carried as hidden inputs;
    the one found shows its amount in its input."""
    docs = invoices(customer, 5, rep=rep, poster=poster)
    memo = credit_memo(customer, "500.00", by=rep, post_by=poster)
    data = {
        "date": "2026-11-20",
        "key": "k",
        "shown_q": "",
        "page": "1",
        "q": docs[3].number,
        "action": "search",
        f"amount_{docs[0].pk}": "10",
        f"amount_{docs[3].pk}": "30",
    }
    html = post(
        rep_client, memo, data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="allocation-list"
    ).content.decode()
    assert html.startswith('\n  <div id="allocation-list">') or 'id="allocation-list"' in html[:80]
    assert rows_on(html) == [docs[3].pk]
    assert f'name="amount_{docs[3].pk}" value="30"' in html
    assert carried(html) == {docs[0].pk: "10"}
    assert f'name="shown_q" value="{docs[3].number}"' in html


def test_enter_in_the_search_box_without_javascript_searches_and_applies_nothing(
    rep_client, rep, poster, customer
):
    """Enter sends the form's default button (Apply); when the search box says something
    the list doesn't show yet, that is a search: nothing is applied."""
    docs = invoices(customer, 3, rep=rep, poster=poster)
    memo = credit_memo(customer, "500.00", by=rep, post_by=poster)
    data = fields(rep_client.get(apply_url(memo)).content.decode(), "apply-form")
    data.update({f"amount_{docs[0].pk}": "10", "q": docs[2].number, "action": "apply"})
    response = post(rep_client, memo, data)
    assert response.status_code == 200
    assert rows_on(response.content.decode()) == [docs[2].pk]
    assert not Application.objects.exists()
    # The same form sent again (the box now says what the list shows): it applies.
    data = fields(response.content.decode(), "apply-form")
    data["action"] = "apply"
    assert post(rep_client, memo, data).status_code == 302
    assert Application.objects.get().amount == D("10.00")


# --- Apply oldest first over every open invoice ----------------------------------------------


def test_apply_oldest_first_fills_over_all_pages_and_says_what_it_did(
    rep_client, rep, poster, customer
):
    """A credit of 2,750.00 over 30 invoices of 100.00: the 27 oldest get 100.00 and the
    28th 50.00 — 25 shown filled, 3 carried; the notice says 2,750.00 to 28 invoices;
    Apply applies all 28."""
    docs = invoices(customer, 30, rep=rep, poster=poster)
    memo = credit_memo(customer, "2750.00", by=rep, post_by=poster)
    data = fields(rep_client.get(apply_url(memo)).content.decode(), "apply-form")
    data["action"] = "fill"
    html = post(rep_client, memo, data, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="allocation-rows"' in html[:60]
    assert f'name="amount_{docs[0].pk}" value="100.00"' in html
    assert carried(html) == {
        docs[25].pk: "100.00",
        docs[26].pk: "100.00",
        docs[27].pk: "50.00",
    }
    assert "Apply oldest first: 2,750.00 to 28 invoices" in html
    assert "(3 of them on later pages)" in html
    assert 'id="remaining">0.00<' in html

    # Without JavaScript the same button reloads the page with the same result.
    full = post(rep_client, memo, data).content.decode()
    data = fields(full, "apply-form")
    data["action"] = "apply"
    assert post(rep_client, memo, data).status_code == 302
    assert Application.objects.count() == 28
    assert fresh(docs[27]).balance_due == D("50.00") and fresh(docs[28]).balance_due == D("100")
    ledger_ok()


def test_apply_oldest_first_over_1500_invoices_applies_them_all_in_a_small_form(
    rep_client, rep, poster, customer
):
    """A credit that covers 1,500 open invoices: the fill (past the first hundred, so by
    the running-total query) carries 1,475 amounts in one hidden field — the form stays far
    below Django's 1,000-field limit — and Apply applies all 1,500."""
    (first,) = invoices(customer, 1, rep=rep, poster=poster)
    bulk_open_invoices(first, 1_499)
    memo = credit_memo(customer, "150000.00", by=rep, post_by=poster)
    data = fields(rep_client.get(apply_url(memo)).content.decode(), "apply-form")
    data["action"] = "fill"
    html = post(rep_client, memo, data).content.decode()
    assert "Apply oldest first: 150,000.00 to 1500 invoices" in html
    assert len(carried(html)) == 1_475
    data = fields(html, "apply-form")
    assert len(data) < 100
    data["action"] = "apply"
    assert post(rep_client, memo, data).status_code == 302
    assert Application.objects.count() == 1_500
    assert fresh(memo).balance_due == 0


def test_clear_empties_every_page(rep_client, rep, poster, customer):
    docs = invoices(customer, 3, rep=rep, poster=poster)
    memo = credit_memo(customer, "500.00", by=rep, post_by=poster)
    data = {"date": "2026-11-20", "key": "k", "action": "clear", "page": "1", "shown_q": ""}
    data.update({f"amount_{d.pk}": "10" for d in docs[:2]})
    data["carried"] = json.dumps({str(docs[2].pk): "10"})  # typed on another page
    html = post(rep_client, memo, data, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="applying">0.00<' in html and 'value="10"' not in html
    assert carried(html) == {}


# --- errors next to the right row ------------------------------------------------------------


def test_an_error_on_another_page_is_listed_with_a_way_to_show_its_row(
    rep_client, rep, poster, customer
):
    """Too much on a row of page 2 while page 1 shows: nothing is applied, the banner names
    the row and its error, and its button (find) brings the row up with the error."""
    docs = invoices(customer, 30, rep=rep, poster=poster)
    memo = credit_memo(customer, "500.00", by=rep, post_by=poster)
    late = docs[29]
    data = fields(rep_client.get(apply_url(memo)).content.decode(), "apply-form")
    data.update({f"amount_{docs[0].pk}": "10", f"amount_{late.pk}": "150", "action": "apply"})
    response = post(rep_client, memo, data)
    assert response.status_code == 400
    html = response.content.decode()
    banner = html.split('id="other-page-errors"')[1].split("</div>")[0]
    assert f'name="find" value="{late.number}"' in banner
    assert f"More than {late.number}&#x27;s open 100.00." in banner
    assert not Application.objects.exists()

    data = fields(html, "apply-form")
    data["find"] = late.number
    shown = post(rep_client, memo, data, HTTP_HX_REQUEST="true").content.decode()
    assert rows_on(shown) == [late.pk]
    row_error = shown.split(f'id="rowerr-{late.pk}"')[1].split("</div></div>")[0]
    assert "More than" in row_error
    assert carried(shown) == {docs[0].pk: "10"}
    assert 'id="other-page-errors"' not in shown


def test_a_service_error_on_a_row_of_another_page_is_listed_too(rep_client, rep, poster, customer):
    """The service refuses a row the form let through (the application date is before the
    invoice's own date): the row is on page 2, so its error is listed above the table."""
    invoices(customer, 25, rep=rep, poster=poster)
    late = posted_invoice(
        customer, "100.00", by=rep, post_by=poster, date=datetime.date(2026, 11, 25)
    )
    memo = credit_memo(customer, "500.00", by=rep, post_by=poster)
    data = fields(rep_client.get(apply_url(memo)).content.decode(), "apply-form")
    data.update({f"amount_{late.pk}": "10", "date": "2026-11-20", "action": "apply"})
    response = post(rep_client, memo, data)
    assert response.status_code == 400
    banner = response.content.decode().split('id="other-page-errors"')[1].split("</div>")[0]
    assert f"The application date is before {late.number}&#x27;s date." in banner
    assert not Application.objects.exists()


def test_an_amount_on_an_invoice_no_longer_open_is_refused_once(rep_client, rep, poster, customer):
    """Someone else paid the invoice after the form was loaded: the amount is refused with
    its number, taken off, and the next Apply goes through without it."""
    docs = invoices(customer, 2, rep=rep, poster=poster)
    memo = credit_memo(customer, "500.00", by=rep, post_by=poster)
    data = fields(rep_client.get(apply_url(memo)).content.decode(), "apply-form")
    data.update({f"amount_{docs[0].pk}": "10", f"amount_{docs[1].pk}": "20", "action": "apply"})
    Document.objects.filter(pk=docs[1].pk).update(balance_due=0)  # paid elsewhere
    response = post(rep_client, memo, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert f"{docs[1].number} is no longer open" in html
    assert f"amount_{docs[1].pk}" not in html and docs[1].pk not in carried(html)
    data = fields(html, "apply-form")
    data["action"] = "apply"
    assert post(rep_client, memo, data).status_code == 302
    assert list(Application.objects.values_list("target_id", flat=True)) == [docs[0].pk]


def test_the_same_picker_form_sent_twice_applies_once(rep_client, rep, poster, customer):
    """Carried amounts and all, a re-sent Apply (same key) answers as the first did."""
    docs = invoices(customer, 27, rep=rep, poster=poster)
    memo = credit_memo(customer, "500.00", by=rep, post_by=poster)
    data = fields(rep_client.get(apply_url(memo, "?page=2")).content.decode(), "apply-form")
    data.update({f"amount_{docs[0].pk}": "10", f"amount_{docs[26].pk}": "20", "action": "apply"})
    assert post(rep_client, memo, data).status_code == 302
    again = post(rep_client, memo, data, follow=True)
    assert "Applied 30.00" in again.content.decode()
    assert Application.objects.count() == 2


# --- Record Payment shares the picker --------------------------------------------------------


def test_record_payment_pages_and_keeps_amounts(rep_client, rep, poster, customer):
    """Record Payment's allocation rows page and carry amounts the same way."""
    docs = invoices(customer, 30, rep=rep, poster=poster)
    url = reverse("payments:create") + f"?customer={customer.pk}"
    html = rep_client.get(url).content.decode()
    assert rows_on(html) == [d.pk for d in docs[:25]]
    data = fields(html, "payment-form")
    data.update({"amount": "250.00", "method": "check", "date": "2026-11-20", "goto": "2"})
    data[f"amount_{docs[0].pk}"] = "100"
    page2 = rep_client.post(url, data).content.decode()
    assert rows_on(page2) == [d.pk for d in docs[25:]]
    data = fields(page2, "payment-form")
    data[f"amount_{docs[29].pk}"] = "100"
    data["action"] = "save"
    response = rep_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    payment = Document.objects.get(kind="payment")
    assert payment.grand_total == D("-250.00")


# --- queries don't grow with the open invoices -----------------------------------------------


def _queries(client, method, url, data=None, **headers):
    with CaptureQueriesContext(connection) as ctx:
        response = getattr(client, method)(url, data, **headers)
    assert response.status_code in (200, 400), response.status_code
    return len(ctx.captured_queries), len(response.content)


def test_queries_are_the_same_at_10_and_10000_open_invoices(rep_client, rep, poster, customer):
    """GET, a search, a page change, the live summary and "Apply oldest first" each cost
    the same number of queries with 10 and with 10,000 open invoices, and the page stays
    small (one page of rows, not every row)."""
    docs = invoices(customer, 10, rep=rep, poster=poster)
    memo = credit_memo(customer, "250.00", by=rep, post_by=poster)
    url = apply_url(memo)
    base = {"date": "2026-11-20", "key": "k", "shown_q": "", "page": "1"}
    summary = dict(base, **{f"amount_{docs[0].pk}": "10"})
    fill = dict(base, action="fill")
    htmx = {"HTTP_HX_REQUEST": "true"}

    def measure():
        return {
            "get": _queries(rep_client, "get", url),
            "search": _queries(rep_client, "get", url, {"q": "INV-0000"}),
            "page": _queries(rep_client, "post", url, dict(base, goto="2"), **htmx),
            "summary": _queries(
                rep_client, "post", url, summary, HTTP_HX_TARGET="allocation-summary", **htmx
            ),
            "fill": _queries(rep_client, "post", url, fill, **htmx),
        }

    small = measure()
    bulk_open_invoices(fresh(docs[-1]), 9_990)
    assert Document.objects.filter(customer=customer, balance_due__gt=0).count() == 10_000
    large = measure()
    assert {k: q for k, (q, _) in large.items()} == {k: q for k, (q, _) in small.items()}
    # 25 rows instead of 10: a few KB more, never the whole list.
    assert large["get"][1] < small["get"][1] + 12_000
    assert large["get"][1] < 100_000
