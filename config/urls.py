from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy

from config import errors, security, two_factor
from customers import urls as customer_urls
from invoicing.urls import (
    customer_page_urlpatterns,
    deposit_urlpatterns,
    payment_urlpatterns,
    report_urlpatterns,
)
from invoicing.views import reports
from ledger.urls import report_urlpatterns as ledger_report_urlpatterns

admin.site.site_header = "Credit Desk — Accountants"
admin.site.site_title = "Credit Desk admin"

urlpatterns = [
    path("", reports.dashboard_view, name="home"),
    path("login/", security.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Your account: password and two-factor sign-in (config/two_factor.py).
    path("account/", two_factor.account, name="account"),
    path(
        "account/password/",
        auth_views.PasswordChangeView.as_view(
            template_name="account/password_change.html",
            success_url=reverse_lazy("password_change_done"),
        ),
        name="password_change",
    ),
    path(
        "account/password/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="account/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path("account/two-factor/", two_factor.verify, name="two_factor_verify"),
    path("account/two-factor/setup/", two_factor.setup, name="two_factor_setup"),
    path("account/two-factor/recovery-codes/", two_factor.recovery_codes, name="two_factor_codes"),
    # The customers app makes and edits customers; invoicing shows their A/R (list, record).
    path(
        "customers/",
        include((customer_page_urlpatterns + customer_urls.urlpatterns, customer_urls.app_name)),
    ),
    path("invoices/", include("invoicing.urls")),
    path("payments/", include(payment_urlpatterns)),
    path("deposits/", include(deposit_urlpatterns)),
    path("reports/", include((report_urlpatterns + ledger_report_urlpatterns, "reports"))),
    path("admin/", admin.site.urls),
]

# Refusals inside the desk's layout (config/errors.py).
handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error
