"""More PostgreSQL guards of the books (a no-op on SQLite), after 0003's:

- a journal entry takes lines only in the transaction that wrote it: each entry records
  the writing transaction's id in `created_txid` (a column the database fills, not a
  Django field, so Django's INSERT leaves it to the default and a raw INSERT can't forge
  it), and a trigger refuses a journal line whose entry was written by another
  transaction. (0003 already refuses UPDATE and DELETE of entries and lines.)
- the audit trail is append-only: UPDATE and DELETE of audit events are refused.

Row triggers don't fire on TRUNCATE, which is how Django's flush (test teardown) empties
the tables. Production runs the app as a role that doesn't own these tables, so it can't
disable the triggers (README, "Deploying").
"""

from django.db import migrations

FORWARD = r"""
ALTER TABLE ledger_journalentry
    ADD COLUMN created_txid bigint NOT NULL DEFAULT txid_current();

CREATE OR REPLACE FUNCTION ledger_stamp_entry_txid() RETURNS trigger AS $$
BEGIN
    NEW.created_txid := txid_current();
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_journalentry_stamp_txid
    BEFORE INSERT ON ledger_journalentry
    FOR EACH ROW EXECUTE FUNCTION ledger_stamp_entry_txid();

CREATE OR REPLACE FUNCTION ledger_refuse_line_into_old_entry() RETURNS trigger AS $$
DECLARE
    written bigint;
BEGIN
    SELECT created_txid INTO written FROM ledger_journalentry WHERE id = NEW.entry_id;
    IF written IS NOT NULL AND written <> txid_current() THEN
        RAISE EXCEPTION 'INSERT on ledger_journalline is not allowed: journal entry % was written by an earlier transaction; posted journal entries never change, post a new entry',
            NEW.entry_id USING ERRCODE = '55000';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_journalline_only_into_new_entry
    BEFORE INSERT ON ledger_journalline
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_line_into_old_entry();

CREATE OR REPLACE FUNCTION ledger_refuse_audit_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% on ledger_auditevent is not allowed: the audit trail is append-only',
        TG_OP USING ERRCODE = '55000';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_auditevent_append_only
    BEFORE UPDATE OR DELETE ON ledger_auditevent
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_audit_change();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS ledger_auditevent_append_only ON ledger_auditevent;
DROP TRIGGER IF EXISTS ledger_journalline_only_into_new_entry ON ledger_journalline;
DROP TRIGGER IF EXISTS ledger_journalentry_stamp_txid ON ledger_journalentry;
DROP FUNCTION IF EXISTS ledger_refuse_audit_change();
DROP FUNCTION IF EXISTS ledger_refuse_line_into_old_entry();
DROP FUNCTION IF EXISTS ledger_stamp_entry_txid();
ALTER TABLE ledger_journalentry DROP COLUMN IF EXISTS created_txid;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0006_account_system_role")]
    operations = [migrations.RunPython(forward, backward)]
