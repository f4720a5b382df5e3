"""Creating and editing customers, and the customer autocomplete's suggestions. The list
and the customer record show A/R, so they are invoicing's (invoicing/urls.py); config/urls.py serves both under the "customers" namespace."""

from django.urls import path

from customers import views

app_name = "customers"
urlpatterns = [
    path("new/", views.customer_create_view, name="create"),
    path("search/", views.customer_search_view, name="search"),
    path("<int:pk>/edit/", views.customer_edit_view, name="edit"),
]
