"""Reads of A/R documents, by concept:

- `documents`: the hub and Payments & Refunds listings, one document and its lines;
- `open_items`: open amounts (stored and recomputed as of a date), open invoices and
  credits, applications;
- `credit_memos`: what of an invoice is still creditable, over-credited lines;
- `deposits`: customer deposits and their usage;
- `customers`: one customer's A/R balance, documents and deposits; the customer list;
- `sending`: what was sent to customers, the To Be Sent list, a batch's progress.

What a credit is (`CREDIT_Q`) is defined with the model and re-exported here. Callers may
import from this package or from the modules.
"""

from invoicing.models import CREDIT_Q
from invoicing.selectors.credit_memos import (
    CreditableLine,
    OverCreditedLine,
    credit_memo_quantities,
    credit_memos_of,
    creditable_invoices,
    creditable_lines,
    over_credited_lines,
)
from invoicing.selectors.customers import (
    ar_balance_subquery,
    customer_ar_balance,
    customer_deposits,
    customer_deposits_held,
    customer_documents,
    customer_list,
    customer_summary,
    open_balances_by_customer,
)
from invoicing.selectors.deposits import (
    deposit_amount_problems,
    deposit_applications_for_invoice,
    deposit_get,
    deposit_list,
    deposit_remaining_by_customer,
    deposits_with_remainder,
    deposits_with_usage,
)
from invoicing.selectors.documents import (
    MONEY_KINDS,
    document_get,
    document_lines,
    document_list,
    document_page_get,
    documents_tied_to,
    earmarked_open_subquery,
    hub_documents,
    money_documents,
    money_documents_for,
    posted_documents,
)
from invoicing.selectors.open_items import (
    application_batch_done,
    applications_for,
    bad_applications,
    computed_open_amounts,
    open_amount_as_of,
    open_credits,
    open_invoices,
    refund_source,
)
from invoicing.selectors.sending import (
    BATCH_LIMIT,
    send_progress,
    sendable_documents,
    sends_for,
    to_be_sent,
)

__all__ = [
    "BATCH_LIMIT",
    "CREDIT_Q",
    "MONEY_KINDS",
    "CreditableLine",
    "OverCreditedLine",
    "application_batch_done",
    "applications_for",
    "ar_balance_subquery",
    "bad_applications",
    "computed_open_amounts",
    "credit_memo_quantities",
    "credit_memos_of",
    "creditable_invoices",
    "creditable_lines",
    "customer_ar_balance",
    "customer_deposits",
    "customer_deposits_held",
    "customer_documents",
    "customer_list",
    "customer_summary",
    "deposit_amount_problems",
    "deposit_applications_for_invoice",
    "deposit_get",
    "deposit_list",
    "deposit_remaining_by_customer",
    "deposits_with_remainder",
    "deposits_with_usage",
    "document_get",
    "document_lines",
    "document_page_get",
    "documents_tied_to",
    "document_list",
    "earmarked_open_subquery",
    "hub_documents",
    "money_documents",
    "money_documents_for",
    "open_amount_as_of",
    "open_balances_by_customer",
    "open_credits",
    "open_invoices",
    "refund_source",
    "over_credited_lines",
    "posted_documents",
    "send_progress",
    "sendable_documents",
    "sends_for",
    "to_be_sent",
]
