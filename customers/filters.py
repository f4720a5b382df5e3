import django_filters
from django import forms
from django.db.models import Q

from customers.models import Customer


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Search",
        method="search",
        widget=forms.TextInput(attrs={"placeholder": "Code, name or email", "type": "search"}),
    )
    is_active = django_filters.BooleanFilter(
        label="Active",
        widget=forms.Select(choices=[("", "Any"), ("true", "Active"), ("false", "Inactive")]),
    )

    class Meta:
        model = Customer
        fields = ["q", "is_active"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(code__icontains=value) | Q(name__icontains=value) | Q(email__icontains=value)
        )
