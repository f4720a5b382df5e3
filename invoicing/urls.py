from django.urls import path

from invoicing import views

app_name = "invoicing"
urlpatterns = [
    path("", views.DocumentListView.as_view(), name="list"),
    path("new/", views.document_create_view, name="create"),
    path("new-credit-memo/", views.credit_memo_create_view, name="create_credit_memo"),
    path("<int:pk>/apply/", views.apply_view, name="apply"),
    path("<int:pk>/applications/<int:application_pk>/remove/", views.unapply_view, name="unapply"),
    path("<int:pk>/payment-or-refund/", views.payment_or_refund_view, name="payment_or_refund"),
    path("<int:pk>/release/", views.refund_release_view, name="release"),
    path("<int:pk>/cancel-refund/", views.refund_cancel_view, name="cancel_refund"),
    path("<int:pk>/reverse-refund/", views.refund_reverse_view, name="reverse_refund"),
    path("<int:pk>/apply-deposit/", views.apply_deposit_view, name="apply_deposit"),
    path(
        "<int:pk>/deposit-applications/<int:application_pk>/remove/",
        views.deposit_unapply_view,
        name="deposit_unapply",
    ),
    path("<int:pk>/credit-memo/", views.credit_memo_from_invoice_view, name="credit_from_invoice"),
    path("<int:pk>/", views.document_detail_view, name="detail"),
    path("<int:pk>/edit/", views.document_edit_view, name="edit"),
    path("<int:pk>/post/", views.document_post_view, name="post"),
    path("<int:pk>/void/", views.document_void_view, name="void"),
    path("<int:pk>/cancel/", views.document_cancel_view, name="cancel"),
]

payment_urlpatterns = (
    [
        path("", views.PaymentListView.as_view(), name="list"),
        path("new/", views.payment_record_view, name="create"),
    ],
    "payments",
)

deposit_urlpatterns = (
    [
        path("", views.DepositListView.as_view(), name="list"),
        path("new/", views.deposit_create_view, name="create"),
        path("<int:pk>/", views.deposit_detail_view, name="detail"),
        path("<int:pk>/post/", views.deposit_post_view, name="post"),
        path("<int:pk>/cancel/", views.deposit_cancel_view, name="cancel"),
        path("<int:pk>/void/", views.deposit_void_view, name="void"),
        path("<int:pk>/refund/", views.deposit_refund_view, name="refund"),
        path("refunds/<int:pk>/release/", views.deposit_refund_release_view, name="refund_release"),
        path("refunds/<int:pk>/cancel/", views.deposit_refund_cancel_view, name="refund_cancel"),
        path("refunds/<int:pk>/reverse/", views.deposit_refund_reverse_view, name="refund_reverse"),
    ],
    "deposits",
)
