"""The one listing view every table page uses: django-tables2 + django-filter, 25 rows a
page, and the `#results` fragment for htmx filter changes. Its templates extend
templates/_list.html, which holds the filter bar and that fragment."""

from django_filters.views import FilterView
from django_tables2 import SingleTableMixin


class FilteredTableView(SingleTableMixin, FilterView):
    paginate_by = 25
    selector = None  # the read that lists the rows, called for each request

    def get_queryset(self):
        return self.selector()

    def get_template_names(self):
        if self.request.htmx:
            return ["_list.html#results"]
        return [self.template_name]


def table_page(table_class, filterset_class, template_name: str, selector):
    """The view of a table page: `selector()`'s rows in `table_class`, filtered by
    `filterset_class`, in `template_name` (which extends _list.html)."""
    return FilteredTableView.as_view(
        table_class=table_class,
        filterset_class=filterset_class,
        template_name=template_name,
        selector=selector,
    )
