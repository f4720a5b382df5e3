"""The general ledger's desk pages; config/urls.py serves them under Reports."""

from django.urls import path

from ledger import views

report_urlpatterns = [
    path("trial-balance/", views.trial_balance_view, name="trial_balance"),
    path("accounts/<int:pk>/", views.account_ledger_view, name="account_ledger"),
]
