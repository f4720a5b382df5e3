"""PostgreSQL guards of the books (a no-op on SQLite):

- a deferred constraint trigger that, at commit, rejects any journal entry whose debits
  don't equal its credits;
- triggers that reject UPDATE or DELETE of journal lines and entries (every entry is
  written posted; corrections are reversing entries).
"""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION ledger_check_entry_balanced() RETURNS trigger AS $$
DECLARE
    eid bigint;
    dr numeric;
    cr numeric;
BEGIN
    IF TG_OP = 'DELETE' THEN eid := OLD.entry_id; ELSE eid := NEW.entry_id; END IF;
    SELECT COALESCE(SUM(debit), 0), COALESCE(SUM(credit), 0) INTO dr, cr
      FROM ledger_journalline WHERE entry_id = eid;
    IF dr <> cr THEN
        RAISE EXCEPTION 'journal entry % is unbalanced: debits % <> credits %', eid, dr, cr
            USING ERRCODE = '23514';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER ledger_journalline_balanced
    AFTER INSERT OR UPDATE OR DELETE ON ledger_journalline
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced();

CREATE OR REPLACE FUNCTION ledger_reject_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% on % is not allowed: posted journal entries never change; post a reversing entry',
        TG_OP, TG_TABLE_NAME USING ERRCODE = '55000';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_journalline_immutable
    BEFORE UPDATE OR DELETE ON ledger_journalline
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();

CREATE TRIGGER ledger_journalentry_immutable
    BEFORE UPDATE OR DELETE ON ledger_journalentry
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS ledger_journalentry_immutable ON ledger_journalentry;
DROP TRIGGER IF EXISTS ledger_journalline_immutable ON ledger_journalline;
DROP TRIGGER IF EXISTS ledger_journalline_balanced ON ledger_journalline;
DROP FUNCTION IF EXISTS ledger_reject_change();
DROP FUNCTION IF EXISTS ledger_check_entry_balanced();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_chart_roles_settings")]
    operations = [migrations.RunPython(forward, backward)]
