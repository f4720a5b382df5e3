"""The one listing view every table page uses: django-tables2 + django-filter, 25 rows a
page, and the `#results` fragment for htmx filter changes."""

from django_filters.views import FilterView
from django_tables2 import SingleTableMixin


class FilteredTableView(SingleTableMixin, FilterView):
    paginate_by = 25

    def get_template_names(self):
        if self.request.htmx:
            return [self.template_name + "#results"]
        return [self.template_name]
