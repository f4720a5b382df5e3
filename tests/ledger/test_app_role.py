"""The least-privilege database role (manage.py create_app_role), on PostgreSQL: as the
app's role the desk works, and the guards of the books cannot be switched off."""

import json
import os
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from ledger.models import JournalLine
from tests.factories import CustomerFactory, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(settings.BASE_DIR)
PASSWORD = "app-role-test-pw"


def dsn(role):
    db = connection.settings_dict
    return (
        f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} dbname={db['NAME']} "
        f"user={role} password={PASSWORD}"
    )


def url(role):
    db = connection.settings_dict
    return (
        f"postgres://{role}:{PASSWORD}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
        f"{db['NAME']}"
    )


@pytest.fixture
def app_role():
    role = f"cd_app_{uuid.uuid4().hex[:10]}"
    call_command("create_app_role", role=role, password=PASSWORD, verbosity=0)
    try:
        yield role
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP OWNED BY "{role}"')
            cursor.execute(f'DROP ROLE "{role}"')


def refused(role, statement):
    """Run `statement` as `role`; return the error PostgreSQL answered with (or None)."""
    with psycopg.connect(dsn(role), autocommit=True) as conn:
        try:
            conn.execute(statement)
        except psycopg.Error as exc:
            return exc
    return None


def test_the_app_role_cannot_switch_off_the_guards(app_role):
    for statement in (
        "ALTER TABLE ledger_journalline DISABLE TRIGGER ALL",
        "ALTER TABLE ledger_auditevent DISABLE TRIGGER USER",
        "ALTER TABLE invoicing_document DISABLE TRIGGER ALL",
        "TRUNCATE ledger_journalline",
        "TRUNCATE ledger_auditevent CASCADE",
        "SET session_replication_role = replica",
        "DROP TABLE ledger_journalline",
        "CREATE TABLE public.sneaky (id int)",
        "ALTER TABLE ledger_account ADD COLUMN sneaky int",
        "CREATE ROLE sneaky_role",
    ):
        error = refused(app_role, statement)
        assert isinstance(error, psycopg.errors.InsufficientPrivilege), (statement, error)


def test_the_desk_works_as_the_app_role_and_the_triggers_hold(app_role):
    make_user("A/R rep", "rep"), make_user("Poster", "poster")
    customer = CustomerFactory(name="Role Test Supply")
    # Through the services, in a separate process connected as the app role: create and
    # post an invoice (idempotency key, row locks, journal, audit), then load its page.
    script = f"""
import django, json
django.setup()
from decimal import Decimal
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from customers.models import Customer
from tests.factories import posted_invoice
User = get_user_model()
rep, poster = User.objects.get(username="rep"), User.objects.get(username="poster")
customer = Customer.objects.get(pk={customer.pk})
doc = posted_invoice(customer, Decimal("125.00"), by=rep, post_by=poster)
client = Client(HTTP_HOST="localhost")
client.force_login(rep)
page = client.get(f"/invoices/{{doc.pk}}/")
with connection.cursor() as cursor:
    cursor.execute("SELECT current_user")
    user = cursor.fetchone()[0]
print(json.dumps({{"doc": doc.pk, "status": page.status_code, "user": user,
                  "number": doc.number, "shown": doc.number in page.content.decode()}}))
"""
    env = {
        **os.environ,
        "DATABASE_URL": url(app_role),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "1",
        "CONN_MAX_AGE": "0",
    }
    env.pop("MIGRATE_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["user"] == app_role
    assert result["status"] == 200 and result["shown"]
    lines = JournalLine.objects.filter(entry__source_ref=result["number"])
    assert sum(line.debit for line in lines) == Decimal("125.00")
    # A posted journal line is still unchangeable for the app role: the trigger refuses.
    line = lines.first()
    error = refused(
        app_role, f"UPDATE ledger_journalline SET debit = debit + 1 WHERE id = {line.pk}"
    )
    assert error is not None and not isinstance(error, psycopg.errors.InsufficientPrivilege)
    # And nothing it may do lets it write a table it was not granted in the future either:
    # later tables are granted by default privileges (checked on a table made as owner).
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE later_table (id int)")
    try:
        assert refused(app_role, "INSERT INTO later_table VALUES (1)") is None
        assert isinstance(
            refused(app_role, "TRUNCATE later_table"), psycopg.errors.InsufficientPrivilege
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE later_table")


def test_running_it_again_updates_the_role(app_role):
    call_command("create_app_role", role=app_role, password=PASSWORD, verbosity=0)
    assert refused(app_role, "SELECT 1 FROM ledger_account LIMIT 1") is None


def test_a_bad_role_name_is_refused():
    with pytest.raises(CommandError, match="letters, digits and underscores"):
        call_command("create_app_role", role='x"; DROP TABLE y; --', password="p")
