"""Exports of every listing, in one place: CSV and XLSX through django-tables2's export
support (`ExportMixin` / `TableExport`, written by tablib and openpyxl).

- Rows: every row the filters select, in the table's ordering (not just the page).
- Values: a cell whose record value is a number or a date is exported as that value (a
  Decimal or int, a date), not as the column's formatted text (MoneyColumn's "1,234.50",
  DateColumn's "11/02/2026"), so spreadsheets can sum and sort them. When the table has
  its own `value_<column>` or `render_<column>` method, that method decides instead (it
  may change the value, as Payments' Unapplied flips the sign); a number or date it
  returns is still exported as one. Other cells are the column's text; HTML a `render_`
  method marked safe (a badge) is reduced to its text, so no export holds markup.
- Safety (OWASP CSV injection): a text cell starting with `=`, `+`, `-`, `@`, a tab or a
  carriage return gets a leading apostrophe, so no spreadsheet reads it as a formula;
  numbers are never touched (a credit's -250.00 stays a number).
- CSV is UTF-8 with a byte-order mark (Excel reads accents right), `text/csv;
  charset=utf-8`; files are named `<name>-YYYYMMDD.<csv|xlsx>`.
"""

import datetime
import html
from decimal import Decimal

import django_tables2 as tables
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.safestring import SafeData
from django_tables2 import A
from django_tables2.export import ExportMixin, TableExport
from tablib import Dataset

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def neutralise(value):
    """A text cell a spreadsheet can't read as a formula; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _is_raw(value) -> bool:
    """A value exported as itself: numbers (not booleans) and dates."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int | float | Decimal | datetime.date)


def _text(value) -> str:
    """A cell's text: HTML that a `render_` method built (format_html, so marked safe and
    with the user's text escaped) becomes that text again."""
    if isinstance(value, SafeData):
        return html.unescape(strip_tags(value))
    return str(value)


def _cell(value):
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        # openpyxl refuses aware datetimes; the desk's local time is what people read.
        return timezone.make_naive(value)
    return neutralise(value)


class SafeTableExport(TableExport):
    """`TableExport` limited to CSV and XLSX, with raw numbers and dates, neutralised
    text and a BOM before the CSV."""

    ALLOWED = (TableExport.CSV, TableExport.XLSX)

    @classmethod
    def is_valid_format(cls, export_format):
        return export_format in cls.ALLOWED

    def table_to_dataset(self, table, exclude_columns, dataset_kwargs=None):
        dataset = Dataset(**{"title": "Export", **(dataset_kwargs or {})})
        exclude_columns = exclude_columns or ()
        columns = [
            column
            for column in table.columns.iterall()
            if not (column.column.exclude_from_export or column.name in exclude_columns)
        ]
        dataset.headers = [str(column.header) for column in columns]
        for row in table.rows:
            dataset.append([_cell(self.cell_value(table, row, column)) for column in columns])
        return dataset

    @staticmethod
    def cell_value(table, row, bound_column):
        name = bound_column.name
        # Only a column's own formatting is skipped; a table method may mean more.
        if not (hasattr(table, f"value_{name}") or hasattr(table, f"render_{name}")):
            raw = A(bound_column.accessor).resolve(row.record, quiet=True)
            if _is_raw(raw):
                return raw
        value = row.get_cell_value(name)
        return value if value is None or _is_raw(value) else _text(value)

    def export(self):
        data = super().export()
        if self.format == self.CSV:
            return BOM + data
        return data


class ExportListingMixin(ExportMixin):
    """`?export=csv` or `?export=xlsx` on a listing downloads its filtered rows; any other
    value is ignored (the page is shown). `export_name` names the file."""

    export_class = SafeTableExport
    export_trigger_param = "export"
    export_formats = SafeTableExport.ALLOWED
    export_name = "export"

    @property
    def export_format(self):
        wanted = self.request.GET.get(self.export_trigger_param)
        return wanted if self.export_class.is_valid_format(wanted) else None

    def get_export_filename(self, export_format):
        stamp = timezone.localdate().strftime("%Y%m%d")
        return f"{self.export_name}-{stamp}.{export_format}"

    def get_dataset_kwargs(self):
        return {"title": self.export_name.replace("-", " ").title()}

    def get_table_pagination(self, table):
        if self.export_format:
            return False  # every filtered row
        return super().get_table_pagination(table)

    def export_links(self):
        """(label, query string) for each format, keeping the current filters and sort."""
        links = []
        for export_format in self.export_formats:
            query = self.request.GET.copy()
            for name in (self.export_trigger_param, "page"):
                query.pop(name, None)
            query[self.export_trigger_param] = export_format
            links.append((f"Export {export_format.upper()}", "?" + query.urlencode()))
        return links

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["export_links"] = self.export_links()
        return context


def rows_download(export_format: str, columns, rows, *, name: str, title: str):
    """A CSV or XLSX download of `rows` (dicts) for a report that isn't a listing:
    `columns` is [(key, header)], in order; values go through SafeTableExport like a
    listing's (numbers and dates as themselves, text neutralised)."""
    table = tables.Table(
        rows, extra_columns=[(key, tables.Column(verbose_name=header)) for key, header in columns]
    )
    exporter = SafeTableExport(export_format, table, dataset_kwargs={"title": title[:31]})
    return exporter.response(filename=f"{name}.{export_format}")
