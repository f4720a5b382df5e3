"""The one listing view every table page uses: django-tables2 + django-filter, 25 rows a
page, the `#results` fragment for htmx filter changes, and the CSV / XLSX exports
(config/exports.py: `?export=csv` or `?export=xlsx`, every filtered row). Its templates
extend templates/_list.html, which holds the filter bar, that fragment and the export
links."""

from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from config.exports import ExportListingMixin


class FilteredTableView(ExportListingMixin, SingleTableMixin, FilterView):
    paginate_by = 25
    selector = None  # the read that lists the rows, called for each request
    export_name = "export"  # the exported file's name, before the date

    def get_queryset(self):
        return self.selector()

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
