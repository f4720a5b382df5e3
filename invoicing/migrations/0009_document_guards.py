"""The database backs the document rules (issue 10, item 8).

- CheckConstraints (every database): the open amount stays within its sign-aware range
  (0 <= balance_due <= grand_total for positives, grand_total <= balance_due <= 0 for
  negatives), and a reservation never exceeds the open credit (reserved = 0, or
  reserved <= -balance_due).
- PostgreSQL triggers (a no-op elsewhere):
  - a document's lines are inserted, changed or deleted only while it is a draft;
  - a posted document (status posted, or void after posting) keeps its totals and identity:
    subtotal, tax_total, grand_total, customer, kind, number, date, method, posted_at,
    posted_by and posting_entry never change; its status only moves posted -> void, and a
    void or cancelled one never comes back. balance_due, reserved and the void_* columns
    still change (applications, refunds, voids);
  - a document that was posted is never deleted.

Production runs the app as a role that doesn't own these tables, so it can't disable the
triggers (README, "Deploying").
"""

from django.db import migrations, models

FORWARD = r"""
CREATE OR REPLACE FUNCTION invoicing_refuse_line_change_unless_draft() RETURNS trigger AS $$
DECLARE
    doc_status varchar;
    doc_number varchar;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT status, number INTO doc_status, doc_number
          FROM invoicing_document WHERE id = OLD.document_id FOR SHARE;
        IF doc_status IS NOT NULL AND doc_status <> 'draft' THEN
            RAISE EXCEPTION '% on invoicing_documentline is not allowed: % is not a draft; its lines never change',
                TG_OP, doc_number USING ERRCODE = '55000';
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT status, number INTO doc_status, doc_number
          FROM invoicing_document WHERE id = NEW.document_id FOR SHARE;
        IF doc_status IS NOT NULL AND doc_status <> 'draft' THEN
            RAISE EXCEPTION '% on invoicing_documentline is not allowed: % is not a draft; its lines never change',
                TG_OP, doc_number USING ERRCODE = '55000';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER invoicing_documentline_draft_only
    BEFORE INSERT OR UPDATE OR DELETE ON invoicing_documentline
    FOR EACH ROW EXECUTE FUNCTION invoicing_refuse_line_change_unless_draft();

CREATE OR REPLACE FUNCTION invoicing_guard_posted_document() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status = 'posted' OR OLD.posting_entry_id IS NOT NULL THEN
            RAISE EXCEPTION 'DELETE on invoicing_document is not allowed: % was posted; void it instead',
                OLD.number USING ERRCODE = '55000';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'draft' THEN
        RETURN NEW;
    END IF;
    -- Posted, void, or cancelled: the status only moves posted -> void.
    IF NEW.status IS DISTINCT FROM OLD.status
       AND NOT (OLD.status = 'posted' AND NEW.status = 'void') THEN
        RAISE EXCEPTION 'UPDATE on invoicing_document is not allowed: % can''t go from % to %',
            OLD.number, OLD.status, NEW.status USING ERRCODE = '55000';
    END IF;
    IF OLD.status = 'posted' OR OLD.posting_entry_id IS NOT NULL THEN
        IF NEW.subtotal IS DISTINCT FROM OLD.subtotal
           OR NEW.tax_total IS DISTINCT FROM OLD.tax_total
           OR NEW.grand_total IS DISTINCT FROM OLD.grand_total
           OR NEW.customer_id IS DISTINCT FROM OLD.customer_id
           OR NEW.kind IS DISTINCT FROM OLD.kind
           OR NEW.number IS DISTINCT FROM OLD.number
           OR NEW.date IS DISTINCT FROM OLD.date
           OR NEW.method IS DISTINCT FROM OLD.method
           OR NEW.posted_at IS DISTINCT FROM OLD.posted_at
           OR NEW.posted_by_id IS DISTINCT FROM OLD.posted_by_id
           OR NEW.posting_entry_id IS DISTINCT FROM OLD.posting_entry_id THEN
            RAISE EXCEPTION 'UPDATE on invoicing_document is not allowed: % is posted; its totals and identity never change (void it and make a new one)',
                OLD.number USING ERRCODE = '55000';
        END IF;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER invoicing_document_posted_guard
    BEFORE UPDATE OR DELETE ON invoicing_document
    FOR EACH ROW EXECUTE FUNCTION invoicing_guard_posted_document();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS invoicing_document_posted_guard ON invoicing_document;
DROP TRIGGER IF EXISTS invoicing_documentline_draft_only ON invoicing_documentline;
DROP FUNCTION IF EXISTS invoicing_guard_posted_document();
DROP FUNCTION IF EXISTS invoicing_refuse_line_change_unless_draft();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("invoicing", "0008_integrity")]

    operations = [
        migrations.AddConstraint(
            model_name="document",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("balance_due__gte", 0),
                        ("balance_due__lte", models.F("grand_total")),
                        ("grand_total__gte", 0),
                    ),
                    models.Q(
                        ("balance_due__gte", models.F("grand_total")),
                        ("balance_due__lte", 0),
                        ("grand_total__lt", 0),
                    ),
                    _connector="OR",
                ),
                name="document_balance_due_in_range",
            ),
        ),
        migrations.AddConstraint(
            model_name="document",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("reserved", 0),
                    (
                        "reserved__lte",
                        models.expressions.CombinedExpression(
                            models.F("balance_due"), "*", models.Value(-1)
                        ),
                    ),
                    _connector="OR",
                ),
                name="document_reserved_within_open_credit",
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
