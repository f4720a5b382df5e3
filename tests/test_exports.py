"""Exports (config/exports.py): every listing downloads CSV and XLSX of all its filtered
rows through django-tables2's export support, amounts as numbers, dates as dates, and
text neutralised against formula injection (OWASP CSV injection)."""

import csv
import datetime
import io
from decimal import Decimal

import django_tables2 as tables
import openpyxl
import pytest
from django.urls import reverse
from django.utils.html import format_html

from config.exports import SafeTableExport, neutralise
from invoicing import services
from invoicing.models import DocumentSend, SendChannel, SendStatus
from ledger.tables import MoneyColumn
from tests.factories import (
    CustomerFactory,
    make_invoice,
    posted_deposit,
    posted_invoice,
    posted_memo,
)

pytestmark = pytest.mark.django_db

LISTINGS = [
    ("invoicing:list", {}, "invoices"),
    ("invoicing:list", {"type": "credits"}, "credits"),
    ("payments:list", {}, "payments"),
    ("deposits:list", {}, "deposits"),
    ("customers:list", {}, "customers"),
    ("invoicing:to_be_sent", {}, "to-be-sent"),
]
HOSTILE = [
    '=HYPERLINK("http://x")',
    "+1+1",
    "@SUM(1+1)",
    "=cmd|' /C calc'!A0",
    "-2+3",
    "\tTAB",
    "\rCR",
]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark
    text = response.content.decode("utf-8").removeprefix("\ufeff")
    return list(csv.reader(io.StringIO(text, newline="")))


def read_xlsx(response) -> list[tuple]:
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX_TYPE
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    return list(sheet.iter_rows(values_only=True))


def as_dicts(rows):
    header, *body = rows
    return [dict(zip(header, row, strict=True)) for row in body]


@pytest.fixture
def ledger_rows(rep, poster, customer):
    """Something on every listing: an invoice and a credit memo posted (and so to be
    sent), a payment, a deposit."""
    invoice = posted_invoice(customer, "1234.50", by=rep, post_by=poster)
    memo = posted_memo(customer, "250.00", by=rep, post_by=poster)
    payment = services.payment_record(
        customer=customer,
        date=datetime.date(2026, 11, 12),
        method="check",
        amount=Decimal("100.00"),
        reference="CHK 1",
        memo="",
        key="",
        by=rep,
        allocations=[],
    )
    deposit = posted_deposit(customer, "300.00", by=rep, post_by=poster)
    return invoice, memo, payment, deposit


@pytest.mark.parametrize(("name", "params", "stem"), LISTINGS)
def test_every_listing_exports_csv_and_xlsx(poster_client, ledger_rows, name, params, stem):
    url = reverse(name)
    csv_response = poster_client.get(url, {**params, "export": "csv"})
    rows = read_csv(csv_response)
    assert len(rows) >= 2
    disposition = csv_response["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="{stem}-20')
    assert disposition.endswith('.csv"')

    xlsx_response = poster_client.get(url, {**params, "export": "xlsx"})
    sheet = read_xlsx(xlsx_response)
    assert sheet[0] == tuple(rows[0])  # same columns, same headers
    assert len(sheet) == len(rows)
    assert xlsx_response["Content-Disposition"].endswith('.xlsx"')

    page = poster_client.get(url, params).content.decode()
    assert "Export CSV" in page and "Export XLSX" in page


@pytest.mark.parametrize(("name", "params", "stem"), LISTINGS)
def test_an_unknown_format_shows_the_page(rep_client, name, params, stem):
    for fmt in ("pdf", "json", "", "../x"):
        response = rep_client.get(reverse(name), {**params, "export": fmt})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")


def test_html_only_columns_are_not_exported(poster_client, ledger_rows):
    """To Be Sent's checkboxes are not data; the export has no column for them."""
    header, *rows = read_csv(poster_client.get(reverse("invoicing:to_be_sent"), {"export": "csv"}))
    assert header[0] == "Number"
    assert "<input" not in "".join(header + [cell for row in rows for cell in row])
    assert "<span" not in "".join(cell for row in rows for cell in row)


def test_a_send_badge_exports_as_its_label(rep, poster, customer, poster_client):
    """A document whose email failed stays To Be Sent; its Last send exports as "Failed",
    not as the page's badge markup."""
    memo = posted_memo(customer, "250.00", by=rep, post_by=poster)
    DocumentSend.objects.create(
        document=memo,
        channel=SendChannel.EMAIL,
        status=SendStatus.FAILED,
        error="550 <mailbox> unavailable",
        created_by=rep,
    )
    url = reverse("invoicing:to_be_sent")
    for fmt, read in (("csv", read_csv), ("xlsx", read_xlsx)):
        (row,) = as_dicts(read(poster_client.get(url, {"export": fmt})))
        assert row["Last send"] == "Failed"
        assert row["Grand Total"] in ("-250.00", -250)


def test_markup_from_a_render_method_is_exported_as_its_text():
    """A table whose `render_` method returns HTML (and no `value_` method) still exports
    plain text, with the user's own characters as typed."""

    class Badged(tables.Table):
        name = tables.Column()

        def render_name(self, value):
            return format_html('<span class="badge">{}</span>', value)

    table = Badged([{"name": "Tom & Jerry <3"}, {"name": "=1+1"}])
    dataset = SafeTableExport(SafeTableExport.CSV, table).dataset
    assert [row[0] for row in dataset] == ["Tom & Jerry <3", "'=1+1"]


def test_a_tables_render_method_decides_the_exported_number():
    """A column the table renders itself exports what that method makes of the value (still
    a number), not the record's raw value; a plain money column exports the raw amount."""

    class Signed(tables.Table):
        owed = MoneyColumn()
        held = MoneyColumn()

        def render_held(self, value):
            return -value

    table = Signed([{"owed": Decimal("-12.50"), "held": Decimal("-40.00")}])
    (row,) = SafeTableExport(SafeTableExport.CSV, table).dataset
    assert row == (Decimal("-12.50"), Decimal("40.00"))


def test_hostile_names_are_neutralised_and_unicode_kept(rep_client):
    for name in [*HOSTILE, "Ünïcødé"]:
        CustomerFactory(name=name)
    url = reverse("customers:list")

    csv_names = [r["Name"] for r in as_dicts(read_csv(rep_client.get(url, {"export": "csv"})))]
    xlsx_names = [r["Name"] for r in as_dicts(read_xlsx(rep_client.get(url, {"export": "xlsx"})))]

    # XML (inside XLSX) reads a carriage return back as a line feed.
    for names, read_back in ((csv_names, str), (xlsx_names, lambda s: s.replace("\r", "\n"))):
        assert "Ünïcødé" in names
        for hostile in HOSTILE:
            assert read_back("'" + hostile) in names
        for exported in names:
            assert not exported.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_xlsx_holds_no_formulas(rep_client):
    CustomerFactory(name='=HYPERLINK("http://x")')
    response = rep_client.get(reverse("customers:list"), {"export": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_neutralise_leaves_numbers_and_plain_text():
    assert neutralise(Decimal("-250.00")) == Decimal("-250.00")
    assert neutralise(-3) == -3
    assert neutralise(None) is None
    assert neutralise("Alpha") == "Alpha"
    assert neutralise("-x") == "'-x"


def test_xlsx_amounts_are_numbers_and_dates_are_dates(poster_client, ledger_rows):
    invoice, memo, _, _ = ledger_rows
    rows = as_dicts(read_xlsx(poster_client.get(reverse("invoicing:list"), {"export": "xlsx"})))
    by_number = {r["Number"]: r for r in rows}

    inv = by_number[invoice.number]
    assert isinstance(inv["Grand Total"], int | float)
    assert inv["Grand Total"] == pytest.approx(float(invoice.grand_total))
    assert isinstance(inv["Balance Due"], int | float)
    assert isinstance(inv["Date"], datetime.datetime)
    assert inv["Date"].date() == invoice.date
    assert isinstance(inv["Due"], datetime.datetime)

    credit = by_number[memo.number]
    assert isinstance(credit["Grand Total"], int | float)
    assert credit["Grand Total"] == pytest.approx(-250.0)
    assert credit["Balance Due"] < 0


def test_csv_amounts_have_no_thousands_separators(poster_client, ledger_rows):
    invoice, memo, _, _ = ledger_rows
    rows = as_dicts(read_csv(poster_client.get(reverse("invoicing:list"), {"export": "csv"})))
    by_number = {r["Number"]: r for r in rows}
    assert by_number[invoice.number]["Grand Total"] == f"{invoice.grand_total:.2f}"
    assert "," not in by_number[invoice.number]["Grand Total"]
    assert by_number[memo.number]["Grand Total"] == "-250.00"  # a number, not "'-250.00"
    assert by_number[invoice.number]["Date"] == invoice.date.isoformat()


def test_other_listings_export_numbers(poster, poster_client, ledger_rows, customer):
    _, _, payment, deposit = ledger_rows
    payments = as_dicts(read_xlsx(poster_client.get(reverse("payments:list"), {"export": "xlsx"})))
    row = {r["Number"]: r for r in payments}[payment.number]
    assert row["Amount"] == pytest.approx(100.0)
    assert row["Unapplied"] is None  # blank until posted, as on the page
    assert isinstance(row["Date"], datetime.datetime)

    services.document_post(document=payment, by=poster)
    payments = as_dicts(read_csv(poster_client.get(reverse("payments:list"), {"export": "csv"})))
    row = {r["Number"]: r for r in payments}[payment.number]
    # The table's own sign (money the customer has in hand), as the page shows it.
    assert (row["Amount"], row["Unapplied"]) == ("100.00", "100.00")

    deposits = as_dicts(read_xlsx(poster_client.get(reverse("deposits:list"), {"export": "xlsx"})))
    row = {r["Number"]: r for r in deposits}[deposit.number]
    assert (row["Amount"], row["Remaining"]) == (pytest.approx(300.0), pytest.approx(300.0))

    customers = as_dicts(
        read_xlsx(poster_client.get(reverse("customers:list"), {"export": "xlsx"}))
    )
    row = {r["Name"]: r for r in customers}[customer.name]
    assert isinstance(row["A/R Balance"], int | float)


def test_filters_limit_the_exported_rows(rep, rep_client):
    alpha = CustomerFactory(name="Alpha Prints")
    beta = CustomerFactory(name="Beta Bakery")
    mine = {make_invoice(customer=alpha, by=rep).number for _ in range(2)}
    make_invoice(customer=beta, by=rep)
    url = reverse("invoicing:list")
    for fmt, read in (("csv", read_csv), ("xlsx", read_xlsx)):
        rows = as_dicts(read(rep_client.get(url, {"export": fmt, "customer": alpha.pk})))
        assert {r["Number"] for r in rows} == mine
        assert {r["Customer"] for r in rows} == {"Alpha Prints"}

    rows = as_dicts(
        read_csv(rep_client.get(reverse("customers:list"), {"export": "csv", "q": "beta"}))
    )
    assert [r["Name"] for r in rows] == ["Beta Bakery"]


def test_every_filtered_row_is_exported_in_the_tables_order(rep, rep_client, customer):
    """30 documents export as 30 rows (the page shows 25), sorted as the table is."""
    for day in range(1, 31):
        make_invoice(customer=customer, by=rep, date=datetime.date(2026, 11, day))
    url = reverse("invoicing:list")
    for fmt, read in (("csv", read_csv), ("xlsx", read_xlsx)):
        rows = as_dicts(read(rep_client.get(url, {"export": fmt, "page": 2})))
        assert len(rows) == 30
    dates = [r["Date"] for r in as_dicts(read_csv(rep_client.get(url, {"export": "csv"})))]
    assert dates == sorted(dates, reverse=True)  # the hub's -date
    dates = [
        r["Date"]
        for r in as_dicts(read_csv(rep_client.get(url, {"export": "csv", "sort": "date"})))
    ]
    assert dates == sorted(dates)


def test_export_links_keep_the_filters(rep_client, customer):
    page = rep_client.get(
        reverse("invoicing:list"), {"customer": customer.pk, "page": 1, "export": "nope"}
    ).content.decode()
    assert f'href="?customer={customer.pk}&amp;export=csv"' in page
    assert f'href="?customer={customer.pk}&amp;export=xlsx"' in page
    # An htmx filter change swaps #results, links included.
    fragment = rep_client.get(
        reverse("invoicing:list"), {"status": "draft"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'href="?status=draft&amp;export=xlsx"' in fragment
