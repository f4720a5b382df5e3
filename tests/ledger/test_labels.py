"""Labels the ledger builds from customer-entered text fit their columns."""

import pytest


@pytest.mark.django_db
def test_long_customer_names_never_overflow_the_ledger_labels(rep, poster):
    """A 200-character customer name goes into the journal memo and the audit reference;
    both are cut to their column (PostgreSQL refuses an overlong varchar; SQLite doesn't)."""
    from ledger.models import AuditEvent, JournalEntry
    from tests.factories import CustomerFactory, make_invoice

    customer = CustomerFactory(name="N" * 200)
    invoice = make_invoice(customer=customer, by=rep, post_by=poster, description="D" * 255)
    entry = JournalEntry.objects.get(pk=invoice.posting_entry_id)
    assert len(entry.memo) <= 255
    refs = AuditEvent.objects.values_list("target_ref", flat=True)
    assert refs and all(len(ref) <= 80 for ref in refs)
    assert any(ref.endswith("…") for ref in refs)
