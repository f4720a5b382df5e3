"""Writes to A/R documents, payments, refunds and deposits.

Each public function is one state change in one transaction, checks who may do it, locks
what it changes, and writes an audit event. Organised by concept, lowest first (each
module imports only those before it):

- base: numbers, line inputs and totals, locks, the service shape, shared stamps
- applications: Apply Credit and unapply
- payments: recording payments, and the earmark step posting sets in motion
- deposits: customer deposits, their applications, store-credit deposits
- documents: create, edit, post, void, cancel drafts
- posting: "Post selected", many drafts in one transaction
- credit_memos: credit memos made from an invoice
- refunds: refunds of credits and of deposits, one code path
- printing: the frozen PDF of an issued document (rendered once, SHA-256 recorded)
- sending: emailing documents (a background task) and recording print runs

`from invoicing import services; services.refund_prepare(...)` keeps working: every
public name is re-exported here.
"""

from invoicing.allocator import Allocation
from invoicing.selectors.open_items import refund_source
from invoicing.services.applications import credit_apply, credit_unapply
from invoicing.services.base import SEQUENCE_PREFIX, LineInput, clean_allocations, locked_message
from invoicing.services.credit_memos import (
    credit_memo_create_from_invoice,
    credit_memo_update_from_invoice,
)
from invoicing.services.deposits import (
    deposit_apply,
    deposit_cancel,
    deposit_post,
    deposit_posting_legs,
    deposit_record,
    deposit_unapply,
    deposit_void,
)
from invoicing.services.documents import (
    clean_line_inputs,
    document_cancel_draft,
    document_create,
    document_post,
    document_update_draft,
    document_void,
    posting_legs,
    void_undo_list,
)
from invoicing.services.payments import payment_on_document, payment_record
from invoicing.services.posting import MAX_BATCH, BatchRefused, PostBatch, documents_post_batch
from invoicing.services.printing import (
    FrozenPDFMismatch,
    frozen_pdf,
    frozen_pdf_bytes,
)
from invoicing.services.refunds import (
    deposit_refund_cancel,
    deposit_refund_prepare,
    deposit_refund_release,
    deposit_refund_reverse,
    refund_cancel,
    refund_methods,
    refund_prepare,
    refund_release,
    refund_reversal_legs,
    refund_reverse,
)
from invoicing.services.sending import (
    deliver,
    document_email,
    document_print,
    document_title,
    email_defaults,
    printed_pdf,
)

__all__ = [
    "MAX_BATCH",
    "BatchRefused",
    "FrozenPDFMismatch",
    "PostBatch",
    "SEQUENCE_PREFIX",
    "Allocation",
    "LineInput",
    "clean_allocations",
    "clean_line_inputs",
    "credit_apply",
    "credit_memo_create_from_invoice",
    "credit_memo_update_from_invoice",
    "credit_unapply",
    "deliver",
    "deposit_apply",
    "deposit_cancel",
    "deposit_post",
    "deposit_posting_legs",
    "deposit_record",
    "deposit_refund_cancel",
    "deposit_refund_prepare",
    "deposit_refund_release",
    "deposit_refund_reverse",
    "deposit_unapply",
    "deposit_void",
    "document_cancel_draft",
    "document_create",
    "document_email",
    "document_print",
    "document_title",
    "document_post",
    "documents_post_batch",
    "document_update_draft",
    "document_void",
    "email_defaults",
    "frozen_pdf",
    "frozen_pdf_bytes",
    "locked_message",
    "payment_on_document",
    "payment_record",
    "posting_legs",
    "printed_pdf",
    "refund_cancel",
    "refund_methods",
    "refund_prepare",
    "refund_release",
    "refund_reversal_legs",
    "refund_reverse",
    "refund_source",
    "void_undo_list",
]
