"""The one listing view every table page uses: django-tables2 + django-filter, 25 rows a
page, the `#results` fragment for htmx filter changes, and the CSV / XLSX exports
(config/exports.py: `?export=csv` or `?export=xlsx`, every filtered row). Its templates
extend templates/_list.html, which holds the filter bar, that fragment and the export
links."""

import types

from django_filters.views import FilterView
from django_tables2 import SingleTableMixin
from django_tables2 import utils as tables_utils

from config.exports import ExportListingMixin


def _signature_once_per_function(signature):
    """django-tables2 calls `inspect.signature` for every cell it renders (to pass a
    `render_*`/`linkify` callable only the arguments it names): on the 25-row hub that
    was about half of the page's time. A function's arguments don't change, so each is
    inspected once (keyed by its code, and whether it is bound)."""
    known = {}

    def cached(fn):
        func = getattr(fn, "__func__", fn)
        if not isinstance(func, types.FunctionType):
            return signature(fn)
        key = (func.__code__, hasattr(fn, "__self__"))
        if key not in known:
            known[key] = signature(fn)
        return known[key]

    cached.__wrapped__ = signature
    return cached


if not hasattr(tables_utils.signature, "__wrapped__"):
    tables_utils.signature = _signature_once_per_function(tables_utils.signature)


# The listings' table template: django-tables2's, with cell attributes computed per column.
TABLE_TEMPLATE = "_table.html"


def cell_attrs_once(table):
    """Give each column of `table` its cells' HTML attributes, computed once
    (`column.td_html`, used by TABLE_TEMPLATE); django-tables2 recomputes them for every
    cell. A column whose cell attributes are callables (they may depend on the row) is
    left to the per-cell path."""
    shared = table.attrs.get("td", {})
    for column in table.columns:
        own = column.column.attrs
        td = own.get("td", own.get("cell", {}))
        if any(callable(v) for v in (*shared.values(), *td.values())):
            column.td_html = None
        else:
            column.td_html = column.attrs["td"].as_html()
    return table


class FilteredTableView(ExportListingMixin, SingleTableMixin, FilterView):
    # The table paginates (one COUNT). `paginate_by` stays unset: ListView would page the
    # same rows again for a `page_obj` no template uses, and count them a second time.
    table_pagination = {"per_page": 25}
    selector = None  # the read that lists the rows, called for each request
    export_name = "export"  # the exported file's name, before the date

    def get_queryset(self):
        return self.selector()

    def get_table_kwargs(self):
        return {"template_name": TABLE_TEMPLATE, **super().get_table_kwargs()}

    def get_table(self, **kwargs):
        return cell_attrs_once(super().get_table(**kwargs))

    def get_template_names(self):
        if self.request.htmx:
            return ["_list.html#results"]
        return [self.template_name]


def table_page(table_class, filterset_class, template_name: str, selector, export_name: str):
    """The view of a table page: `selector()`'s rows in `table_class`, filtered by
    `filterset_class`, in `template_name` (which extends _list.html); its exports are
    named `export_name`-YYYYMMDD.csv / .xlsx."""
    return FilteredTableView.as_view(
        table_class=table_class,
        filterset_class=filterset_class,
        template_name=template_name,
        selector=selector,
        export_name=export_name,
    )
