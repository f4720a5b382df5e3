from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from customers import urls as customer_urls
from invoicing.urls import customer_page_urlpatterns, deposit_urlpatterns, payment_urlpatterns

admin.site.site_header = "Credit Desk — Accountants"
admin.site.site_title = "Credit Desk admin"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="invoicing:list", permanent=False), name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The customers app makes and edits customers; invoicing shows their A/R (list, record).
    path(
        "customers/",
        include((customer_page_urlpatterns + customer_urls.urlpatterns, customer_urls.app_name)),
    ),
    path("invoices/", include("invoicing.urls")),
    path("payments/", include(payment_urlpatterns)),
    path("deposits/", include(deposit_urlpatterns)),
    path("admin/", admin.site.urls),
]
