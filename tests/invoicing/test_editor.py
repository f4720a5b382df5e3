"""The invoice editor: drafts only, Spectra's Method 2 on drafts, bad input shown next to
the field (never a 500, never a half-saved document), and the htmx row and totals actions."""

import datetime
import html
from decimal import Decimal

import pytest
from django.urls import reverse

from invoicing import services
from invoicing.exceptions import POSTED_LOCKED_MESSAGE, PostedDocumentLocked
from invoicing.models import Document, DocumentKind, DocumentStatus, Item, TaxProfile
from ledger.models import JournalEntry, SystemRole
from tests.factories import line, make_invoice
from tests.invoicing.books import books_stay_balanced, fast_password_hashing  # noqa: F401

D = Decimal
NEW_URL = "/invoices/new/"

pytestmark = pytest.mark.usefixtures("fast_password_hashing", "books_stay_balanced")


def row(item="PRT", quantity="1", unit_price="", tax_profile="", description="", adjustment=""):
    """One editor row as the browser posts it; item and tax profile by code."""
    return {
        "item": str(Item.objects.get(code=item).pk) if item else "",
        "description": description,
        "quantity": quantity,
        "unit_price": unit_price,
        "unit_adjustment": adjustment,
        "tax_profile": str(TaxProfile.objects.get(code=tax_profile).pk) if tax_profile else "",
    }


BLANK_ROW = {"item": "", "description": "", "quantity": "", "unit_price": "", "tax_profile": ""}


def editor_data(customer, rows, *, action="save", date="2026-11-02", billing_terms="", **extra):
    data = {
        "customer": str(customer.pk) if customer is not None else "",
        "date": date,
        "billing_terms": billing_terms,
        "description": "Editor test",
        "action": action,
        "lines-TOTAL_FORMS": str(len(rows)),
        "lines-INITIAL_FORMS": "0",
    }
    for i, values in enumerate(rows):
        for field, value in values.items():
            data[f"lines-{i}-{field}"] = value
    data.update(extra)
    return data


def htmx(target):
    return {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": target}


# --- saving ------------------------------------------------------------------------------


def test_rep_creates_a_draft_invoice_in_the_editor(customer, rep_client):
    """Saving the editor creates a draft with the item's default price and tax where the
    row leaves them blank, and redirects to the new invoice."""
    data = editor_data(
        customer,
        [row("PRT", "3"), row("SVC", "2", "125.00", "STD"), BLANK_ROW],
    )

    response = rep_client.post(NEW_URL, data, follow=True)

    invoice = Document.objects.get()
    assert response.redirect_chain == [(invoice.get_absolute_url(), 302)]
    assert f"Invoice {invoice.number} saved as a draft." in response.content.decode()
    assert invoice.status == DocumentStatus.DRAFT
    assert invoice.kind == DocumentKind.INVOICE
    lines = list(invoice.lines.select_related("item", "tax_profile").order_by("position"))
    assert [(ln.item.code, ln.unit_price, ln.tax_profile.code) for ln in lines] == [
        ("PRT", D("250.00"), "STD"),  # PRT's defaults
        ("SVC", D("125.00"), "STD"),
    ]
    assert invoice.grand_total == D("1082.51")
    assert not JournalEntry.objects.exists()


def test_get_editor_prefills_the_customer(customer, rep_client):
    """/invoices/new/?customer=<pk> opens the editor with that customer chosen and one row."""
    response = rep_client.get(f"{NEW_URL}?customer={customer.pk}")
    assert response.status_code == 200
    content = response.content.decode()
    assert f'<option value="{customer.pk}" selected>' in content
    assert content.count('class="line-row') == 1


# --- posted documents are locked -----------------------------------------------------------


def test_editing_a_posted_invoice_redirects_with_the_message(customer, rep, poster, rep_client):
    """GET and POST on a posted invoice's editor redirect back to it with "Posted invoices
    can't be changed — create a credit memo instead." and change nothing."""
    invoice = make_invoice(customer=customer, by=rep, post_by=poster)
    url = reverse("invoicing:edit", args=[invoice.pk])

    response = rep_client.get(url, follow=True)
    assert response.redirect_chain == [(invoice.get_absolute_url(), 302)]
    assert html.escape(POSTED_LOCKED_MESSAGE) in response.content.decode()

    response = rep_client.post(url, editor_data(customer, [row("PRT", "9")]), follow=True)
    assert response.redirect_chain == [(invoice.get_absolute_url(), 302)]
    assert html.escape(POSTED_LOCKED_MESSAGE) in response.content.decode()

    invoice.refresh_from_db()
    assert invoice.grand_total == D("100.00")
    assert [ln.quantity for ln in invoice.lines.all()] == [D("1")]
    assert invoice.status == DocumentStatus.POSTED


def test_service_refuses_to_update_a_posted_invoice(customer, rep, poster):
    """document_update_draft raises PostedDocumentLocked with the same message."""
    invoice = make_invoice(customer=customer, by=rep, post_by=poster)

    with pytest.raises(PostedDocumentLocked) as exc:
        services.document_update_draft(document=invoice, lines=[line(quantity="5")], by=rep)

    assert exc.value.messages == [
        "Posted invoices can't be changed — create a credit memo instead."
    ]
    invoice.refresh_from_db()
    assert invoice.grand_total == D("100.00")


def test_a_void_invoice_cannot_be_edited_either(customer, rep, poster):
    """Once voided, a document is no draft: the service refuses to change it."""
    invoice = make_invoice(customer=customer, by=rep, post_by=poster)
    services.document_void(document=invoice, by=poster, date=datetime.date(2026, 11, 3))
    with pytest.raises(PostedDocumentLocked):
        services.document_update_draft(document=invoice, lines=[line(quantity="5")], by=rep)


# --- Spectra's Method 2: lowering a draft ------------------------------------------------


def test_draft_lowered_below_zero_with_a_minus_one_line(customer, rep, poster, rep_client):
    """Adding a −1 line to a draft may take its total below zero (Method 2); the draft then
    reads as a Credit Memo, and posting it credits A/R and debits the line's account."""
    invoice = make_invoice(customer=customer, by=rep, lines=[line("PRT", "1", "250.00")])
    data = editor_data(
        customer, [row("PRT", "1", "250.00", "OUT"), row("PRT", "-1", "400.00", "OUT")]
    )

    response = rep_client.post(reverse("invoicing:edit", args=[invoice.pk]), data)

    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.grand_total == D("-150.00")
    assert invoice.is_draft and invoice.is_credit and invoice.title == "Credit Memo"
    assert invoice.kind == DocumentKind.INVOICE
    assert invoice.number.startswith("INV-")

    posted = services.document_post(document=invoice, by=poster)
    assert posted.balance_due == D("-150.00")
    assert {
        (jl.account.system_role, jl.debit, jl.credit) for jl in posted.posting_entry.lines.all()
    } == {
        (SystemRole.RECEIVABLE, D("0"), D("150.00")),
        (SystemRole.SALES, D("150.00"), D("0")),
    }


def test_draft_lowered_by_reducing_its_quantity(customer, rep):
    """Reducing a draft line's quantity, even to −1, is allowed through the service."""
    invoice = make_invoice(customer=customer, by=rep, lines=[line("PRT", "3", "250.00", "STD")])
    assert invoice.grand_total == D("811.88")

    smaller = services.document_update_draft(
        document=invoice, lines=[line("PRT", "1", "250.00", "STD")], by=rep
    )
    assert smaller.grand_total == D("270.63")

    negative = services.document_update_draft(
        document=invoice, lines=[line("PRT", "-1", "250.00", "STD")], by=rep
    )
    assert negative.grand_total == D("-270.63")
    assert negative.status == DocumentStatus.DRAFT
    assert [ln.quantity for ln in negative.lines.all()] == [D("-1")]


# --- bad input ---------------------------------------------------------------------------

BAD_INPUT = [
    ("letters in price", lambda: [row(unit_price="abc")], "Enter a number, like 1,234.50."),
    ("exponent in price", lambda: [row(unit_price="1e6")], "Enter a number, like 1,234.50."),
    ("NaN in price", lambda: [row(unit_price="NaN")], "Enter a number, like 1,234.50."),
    ("sub-cent price", lambda: [row(unit_price="0.001")], "Use at most 2 decimal places."),
    (
        "15-digit price",
        lambda: [row(unit_price="123456789012345")],
        "That's too large (at most 14 digits).",
    ),
    (
        "15-digit price with cents",
        lambda: [row(unit_price="1234567890123.45")],
        "That's too large (at most 14 digits).",
    ),
    ("letters in quantity", lambda: [row(quantity="two")], "Enter a number, like 1,234.50."),
    ("exponent in quantity", lambda: [row(quantity="1e3")], "Enter a number, like 1,234.50."),
    (
        "15-digit quantity",
        lambda: [row(quantity="123456789012345")],
        "That's too large (at most 12 digits).",
    ),
    ("zero quantity", lambda: [row(quantity="0")], "Enter a quantity other than zero."),
    ("no quantity", lambda: [row(quantity="")], "This field is required."),
    (
        "sub-cent adjustment",
        lambda: [row(adjustment="0.001")],
        "Use at most 2 decimal places.",
    ),
    ("letters in adjustment", lambda: [row(adjustment="x")], "Enter a number, like 1,234.50."),
    ("no lines at all", lambda: [], "Add at least one line."),
    ("only a blank row", lambda: [BLANK_ROW], "Add at least one line."),
    (
        "unknown item",
        lambda: [{**row(), "item": "999999"}],
        "Select a valid choice. That choice is not one of the available choices.",
    ),
    (
        "item that isn't a number",
        lambda: [{**row(), "item": "PRT"}],
        "Select a valid choice. That choice is not one of the available choices.",
    ),
    (
        "grand total too large",
        lambda: [row(quantity="1", unit_price="999999999999.99", tax_profile="STD")],
        "The document's total is too large (at most 999,999,999,999.99).",
    ),
    (
        "a line too large though the total is zero",
        lambda: [
            row(quantity="10", unit_price="999999999999.99"),
            row(quantity="-10", unit_price="999999999999.99"),
        ],
        "Line 1's amount is too large (at most 999,999,999,999.99).",
    ),
]


@pytest.mark.parametrize(
    ("rows", "message"),
    [pytest.param(rows, message, id=name) for name, rows, message in BAD_INPUT],
)
def test_bad_line_input_is_shown_and_nothing_is_saved(customer, rep_client, rows, message):
    """Bad amounts, quantities, items or no lines at all come back as errors in the editor
    (not a 500, not a redirect) and no document is saved."""
    before = Document.objects.count()

    response = rep_client.post(NEW_URL, editor_data(customer, rows()))

    assert response.status_code in (200, 400)
    assert html.escape(message) in response.content.decode()
    assert Document.objects.count() == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("customer", "", "This field is required."),
        ("customer", "999999", "Select a valid choice."),
        ("customer", "abc", "Select a valid choice."),
        ("date", "", "This field is required."),
        ("date", "2026-02-30", "Enter a valid date."),
        ("date", "yesterday", "Enter a valid date."),
        ("billing_terms", "net_999", "Select a valid choice."),
    ],
)
def test_bad_header_input_is_shown_next_to_the_field(customer, rep_client, field, value, message):
    """A missing or invalid customer, date or billing terms is reported on that field; the
    rows typed so far are kept; nothing is saved."""
    data = editor_data(customer, [row("PRT", "2")])
    data[field] = value

    response = rep_client.post(NEW_URL, data)

    assert response.status_code in (200, 400)
    content = response.content.decode()
    assert f'id="id_{field}_error"' in content
    assert html.escape(message) in content
    assert 'name="lines-0-quantity" value="2"' in content
    assert not Document.objects.exists()


@pytest.mark.parametrize(
    "management",
    [
        {},
        {"lines-TOTAL_FORMS": "abc", "lines-INITIAL_FORMS": "0"},
        {"lines-TOTAL_FORMS": "-1", "lines-INITIAL_FORMS": "0"},
    ],
    ids=["missing", "letters", "negative"],
)
def test_tampered_management_form_is_an_error_not_a_500(customer, rep_client, management):
    """A missing or nonsense lines-TOTAL_FORMS is reported as an error; nothing is saved."""
    data = editor_data(customer, [row()])
    del data["lines-TOTAL_FORMS"], data["lines-INITIAL_FORMS"]
    data.update(management)

    response = rep_client.post(NEW_URL, data)

    assert response.status_code in (200, 400)
    assert 'class="errorlist-block"' in response.content.decode()
    assert not Document.objects.exists()


def test_bad_input_when_editing_a_draft_leaves_it_unchanged(customer, rep, rep_client):
    """A bad amount on an existing draft is shown; the draft keeps its lines and total."""
    invoice = make_invoice(customer=customer, by=rep)

    response = rep_client.post(
        reverse("invoicing:edit", args=[invoice.pk]),
        editor_data(customer, [row(unit_price="1e6")]),
    )

    assert response.status_code in (200, 400)
    assert "Enter a number, like 1,234.50." in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.grand_total == D("100.00")
    assert invoice.lines.count() == 1


# --- htmx editor actions -----------------------------------------------------------------


def test_add_line_returns_the_lines_fragment_with_one_more_row(customer, rep_client):
    """action=add_line over htmx answers only the #lines fragment, with the typed rows kept
    and one new blank row, and saves nothing."""
    data = editor_data(customer, [row("PRT", "3"), row("SVC", "2")], action="add_line")

    response = rep_client.post(NEW_URL, data, **htmx("lines"))

    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="lines"')
    assert "<html" not in content and 'id="doc-form"' not in content
    assert content.count('class="line-row') == 3
    assert 'name="lines-TOTAL_FORMS" value="3"' in content
    assert 'name="lines-0-quantity" value="3"' in content
    assert 'name="lines-1-quantity" value="2"' in content
    assert 'name="lines-2-quantity"' in content
    assert 'class="field-error"' not in content, "adding a row shows no errors yet"
    assert not Document.objects.exists()


def test_remove_line_drops_that_row(customer, rep_client):
    """action=remove_line:0 removes the first row; the second moves up."""
    data = editor_data(customer, [row("PRT", "3"), row("SVC", "7")], action="remove_line:0")

    response = rep_client.post(NEW_URL, data, **htmx("lines"))

    content = response.content.decode()
    assert content.count('class="line-row') == 1
    assert 'name="lines-TOTAL_FORMS" value="1"' in content
    assert 'name="lines-0-quantity" value="7"' in content
    assert 'name="lines-0-quantity" value="3"' not in content
    assert 'name="lines-1-quantity"' not in content
    assert not Document.objects.exists()


def test_remove_line_with_a_bad_index_changes_nothing(customer, rep_client):
    """remove_line with an index out of range or not a number keeps every row."""
    for action in ("remove_line:5", "remove_line:x", "remove_line:-1"):
        data = editor_data(customer, [row("PRT", "3")], action=action)
        content = rep_client.post(NEW_URL, data, **htmx("lines")).content.decode()
        assert content.count('class="line-row') == 1


def test_row_actions_without_htmx_render_the_whole_editor(customer, rep_client):
    """Without JavaScript, + Add line re-renders the full page with the extra row."""
    data = editor_data(customer, [row("PRT", "3")], action="add_line")

    response = rep_client.post(NEW_URL, data)

    content = response.content.decode()
    assert "<html" in content and 'id="doc-form"' in content
    assert content.count('class="line-row') == 2
    assert not Document.objects.exists()


def test_totals_fragment_shows_the_computed_grand_total(customer, rep_client):
    """An htmx POST targeting #totals answers the totals fragment: subtotal, tax and grand
    total of the rows as typed (each line rounded half-up), plus each row's amount."""
    data = editor_data(customer, [row("PRT", "3", "", "STD"), row("SVC", "2", "125.00", "STD")])

    response = rep_client.post(NEW_URL, data, **htmx("totals"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" not in content and 'class="line-row' not in content
    assert '<dd class="num" id="subtotal">1,000.00</dd>' in content
    assert '<dd class="num" id="tax-total">82.51</dd>' in content
    assert '<dd class="num strong" id="grand-total">1,082.51</dd>' in content
    assert '<output id="ext-0" hx-swap-oob="true">750.00</output>' in content
    assert '<output id="ext-1" hx-swap-oob="true">250.00</output>' in content
    assert not Document.objects.exists()


def test_totals_fragment_ignores_rows_that_dont_parse(customer, rep_client):
    """While a row is half-typed, the preview counts it as zero instead of failing."""
    data = editor_data(customer, [row("PRT", "2", "10.00", "OUT"), row("PRT", "1e6"), BLANK_ROW])

    response = rep_client.post(NEW_URL, data, **htmx("totals"))

    assert response.status_code == 200
    assert 'id="grand-total">20.00</dd>' in response.content.decode()


def test_totals_fragment_flags_a_negative_total_as_a_credit_memo(customer, rep_client):
    """A draft typed below zero shows its negative total and that it will be a Credit Memo."""
    data = editor_data(
        customer, [row("PRT", "1", "100.00", "OUT"), row("PRT", "-1", "250.00", "OUT")]
    )

    content = rep_client.post(NEW_URL, data, **htmx("totals")).content.decode()

    assert 'id="grand-total">-150.00</dd>' in content
    assert "A negative grand total makes this a Credit Memo." in content
