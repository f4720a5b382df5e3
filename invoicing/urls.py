from django.urls import path

from invoicing.views import (
    applications,
    credit_memos,
    customers,
    deposits,
    documents,
    payments,
    posting,
    printing,
    refunds,
    reports,
    sending,
    statements,
)

app_name = "invoicing"
urlpatterns = [
    path("", documents.DocumentListView.as_view(), name="list"),
    path("to-be-sent/", sending.to_be_sent_view, name="to_be_sent"),
    path("to-post/", posting.post_queue_view, name="post_queue"),
    path("to-be-sent/email/", sending.to_be_sent_email_view, name="to_be_sent_email"),
    path("to-be-sent/progress/", sending.to_be_sent_progress_view, name="to_be_sent_progress"),
    path("to-be-sent/print/", sending.to_be_sent_print_view, name="to_be_sent_print"),
    path("new/", documents.document_create_view, name="create"),
    path("new-credit-memo/", credit_memos.credit_memo_create_view, name="create_credit_memo"),
    path("<int:pk>/apply/", applications.apply_view, name="apply"),
    path(
        "<int:pk>/applications/<int:application_pk>/remove/",
        applications.unapply_view,
        name="unapply",
    ),
    path("<int:pk>/payment-or-refund/", payments.payment_or_refund_view, name="payment_or_refund"),
    path("<int:pk>/release/", refunds.refund_release_view, name="release"),
    path("<int:pk>/cancel-refund/", refunds.refund_cancel_view, name="cancel_refund"),
    path("<int:pk>/reverse-refund/", refunds.refund_reverse_view, name="reverse_refund"),
    path("<int:pk>/apply-deposit/", deposits.apply_deposit_view, name="apply_deposit"),
    path(
        "<int:pk>/deposit-applications/<int:application_pk>/remove/",
        deposits.deposit_unapply_view,
        name="deposit_unapply",
    ),
    path(
        "<int:pk>/credit-memo/",
        credit_memos.credit_memo_from_invoice_view,
        name="credit_from_invoice",
    ),
    path("<int:pk>/", documents.document_detail_view, name="detail"),
    path("<int:pk>/edit/", documents.document_edit_view, name="edit"),
    path("<int:pk>/post/", documents.document_post_view, name="post"),
    path("<int:pk>/void/", documents.document_void_view, name="void"),
    path("<int:pk>/cancel/", documents.document_cancel_view, name="cancel"),
    path("<int:pk>/email/", sending.document_email_view, name="email"),
    path("<int:pk>/print/", printing.document_print_view, name="print"),
    path("<int:pk>/pdf/", printing.document_pdf_view, name="pdf"),
]

payment_urlpatterns = (
    [
        path("", payments.payment_list_view, name="list"),
        path("new/", payments.payment_record_view, name="create"),
    ],
    "payments",
)

deposit_urlpatterns = (
    [
        path("", deposits.deposit_list_view, name="list"),
        path("new/", deposits.deposit_create_view, name="create"),
        path("<int:pk>/", deposits.deposit_detail_view, name="detail"),
        path("<int:pk>/post/", deposits.deposit_post_view, name="post"),
        path("<int:pk>/cancel/", deposits.deposit_cancel_view, name="cancel"),
        path("<int:pk>/void/", deposits.deposit_void_view, name="void"),
        path("<int:pk>/refund/", refunds.deposit_refund_view, name="refund"),
        path("<int:pk>/email/", sending.deposit_email_view, name="email"),
        path("<int:pk>/print/", printing.deposit_print_view, name="print"),
        path("<int:pk>/pdf/", printing.deposit_pdf_view, name="pdf"),
        path(
            "refunds/<int:pk>/release/", refunds.deposit_refund_release_view, name="refund_release"
        ),
        path("refunds/<int:pk>/cancel/", refunds.deposit_refund_cancel_view, name="refund_cancel"),
        path(
            "refunds/<int:pk>/reverse/", refunds.deposit_refund_reverse_view, name="refund_reverse"
        ),
    ],
    "deposits",
)

report_urlpatterns = [
    path("aging/", reports.aging_view, name="aging"),
    path("statements/", statements.send_statements_view, name="statements"),
    path("statements/<int:pk>/", statements.statement_run_view, name="statement_run"),
]

# The customer pages that show A/R; config/urls.py serves them with customers.urls under
# the "customers" namespace.
customer_page_urlpatterns = [
    path("", customers.customer_list_view, name="list"),
    path("<int:pk>/", customers.customer_detail_view, name="detail"),
    path("<int:pk>/statement/", statements.statement_view, name="statement"),
    path("<int:pk>/statement/print/", statements.statement_print_view, name="statement_print"),
    path("<int:pk>/statement/pdf/", statements.statement_pdf_view, name="statement_pdf"),
    path("<int:pk>/statement/email/", statements.statement_email_view, name="statement_email"),
]
