"""The least-privilege database role (manage.py create_app_role), on PostgreSQL: as the
app's role the desk works — services, pages, sessions, the email queue and its worker —
and the guards of the books cannot be switched off, dropped, replaced or fooled."""

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

from invoicing.models import DocumentSend, SendStatus
from ledger.models import JournalLine
from tests.factories import CustomerFactory, make_user

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
    """A fresh app role in the test database (roles are cluster-wide: a unique name, and
    dropped afterwards whatever happened)."""
    role = f"cd_app_{uuid.uuid4().hex[:10]}"
    try:
        call_command("create_app_role", role=role, password=PASSWORD, verbosity=0)
        yield role
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone():
                cursor.execute(f'DROP OWNED BY "{role}"')
                cursor.execute(f'DROP ROLE "{role}"')


def as_role(role, *statements):
    """Run `statements` as `role` in one transaction (committed at the end); return the
    error PostgreSQL answered with, or None."""
    with psycopg.connect(dsn(role)) as conn:
        try:
            with conn.transaction():
                for statement in statements:
                    conn.execute(statement)
        except psycopg.Error as exc:
            return exc
    return None


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE ledger_journalline DISABLE TRIGGER ALL",
        "ALTER TABLE ledger_journalline DISABLE TRIGGER ledger_journalline_immutable",
        "ALTER TABLE ledger_journalline DISABLE TRIGGER ledger_journalline_balanced",
        "ALTER TABLE ledger_auditevent DISABLE TRIGGER USER",
        "ALTER TABLE invoicing_document DISABLE TRIGGER ALL",
        "ALTER TABLE ledger_journalentry ENABLE REPLICA TRIGGER ledger_journalentry_immutable",
        "DROP TRIGGER ledger_journalline_immutable ON ledger_journalline",
        "CREATE OR REPLACE FUNCTION ledger_reject_change() RETURNS trigger "
        "AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql",
        "TRUNCATE ledger_journalline",
        "TRUNCATE ledger_auditevent CASCADE",
        "SET session_replication_role = replica",
        "SET ROLE {owner}",
        "DROP TABLE ledger_journalline",
        "ALTER TABLE ledger_journalline OWNER TO CURRENT_USER",
        "ALTER TABLE ledger_account ADD COLUMN sneaky int",
        "CREATE TABLE public.sneaky (id int)",
        "CREATE SCHEMA sneaky",
        # A temporary table comes first in the search path: the balance trigger would
        # sum its fake rows instead of the real ones.
        "CREATE TEMP TABLE ledger_journalline (entry_id bigint, debit numeric, credit numeric)",
        "CREATE ROLE sneaky_role",
    ],
)
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_app_role_cannot_switch_off_the_guards(app_role, statement):
    """Each way past the triggers that an owner or superuser has is refused to the app
    role with "permission denied" / "must be owner"."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
    error = as_role(app_role, statement.replace("{owner}", f'"{owner}"'))
    assert isinstance(error, psycopg.errors.InsufficientPrivilege), (statement, error)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_desk_works_as_the_app_role_and_the_triggers_hold(app_role, tmp_path):
    """In separate processes connected as the app role: an invoice is created and posted
    through the services (one-time key, row locks, number sequence, journal, audit), its
    page is served to a signed-in rep (session), it is emailed (a task queued in the
    database) and the worker sends it. Then, as the same role, the triggers still refuse
    to change the posted journal line or to commit an unbalanced entry."""
    make_user("A/R rep", "rep"), make_user("Poster", "poster")
    customer = CustomerFactory(name="Role Test Supply")
    script = f"""
import django, json
django.setup()
from decimal import Decimal
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from customers.models import Customer
from invoicing import services
from tests.factories import posted_invoice
User = get_user_model()
rep, poster = User.objects.get(username="rep"), User.objects.get(username="poster")
customer = Customer.objects.get(pk={customer.pk})
doc = posted_invoice(customer, Decimal("125.00"), by=rep, post_by=poster)
client = Client(HTTP_HOST="localhost")
client.force_login(rep)
page = client.get(f"/invoices/{{doc.pk}}/")
send = services.document_email(
    obj=doc, to="buyer@example.com", subject="Your invoice", message="", by=rep
)
with connection.cursor() as cursor:
    cursor.execute("SELECT current_user")
    user = cursor.fetchone()[0]
print(json.dumps({{"doc": doc.pk, "status": page.status_code, "user": user, "send": send.pk,
                  "number": doc.number, "shown": doc.number in page.content.decode()}}))
"""
    env = {
        **os.environ,
        "DATABASE_URL": url(app_role),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "1",
        "CONN_MAX_AGE": "0",
        "VAR_DIR": str(tmp_path),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
    }
    env.pop("MIGRATE_DATABASE_URL", None)

    def run(*args):
        done = subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    result = json.loads(run("-c", script).stdout.strip().splitlines()[-1])
    assert result["user"] == app_role
    assert result["status"] == 200 and result["shown"]
    assert DocumentSend.objects.get(pk=result["send"]).status == SendStatus.QUEUED
    run("manage.py", "db_worker", "--batch", "--no-startup-delay", "--no-reload")
    assert DocumentSend.objects.get(pk=result["send"]).status == SendStatus.SENT

    lines = JournalLine.objects.filter(entry__source_ref=result["number"])
    assert sum(line.debit for line in lines) == Decimal("125.00")
    line = lines.first()
    error = as_role(
        app_role, f"UPDATE ledger_journalline SET debit = debit + 1 WHERE id = {line.pk}"
    )
    assert isinstance(error, psycopg.errors.ObjectNotInPrerequisiteState), error
    assert "posted journal entries never change" in str(error)
    error = as_role(
        app_role,
        "INSERT INTO ledger_journalentry (date, memo, source_ref, posted_by_id, posted_at) "
        f"VALUES ('2026-11-02', 'raw', '', {line.entry.posted_by_id}, now())",
        "INSERT INTO public.ledger_journalline (entry_id, account_id, debit, credit, memo) "
        f"SELECT max(id), {line.account_id}, 100, 0, '' FROM ledger_journalentry",
    )
    assert isinstance(error, psycopg.errors.CheckViolation) and "unbalanced" in str(error)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_tables_later_migrations_create_are_granted(app_role):
    """A table the owner creates after the command (a later migration) is readable and
    writable by the app role through the default privileges — and not truncatable."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE later_table (id serial PRIMARY KEY, n int)")
    try:
        assert as_role(app_role, "INSERT INTO later_table (n) VALUES (1)") is None
        error = as_role(app_role, "TRUNCATE later_table")
        assert isinstance(error, psycopg.errors.InsufficientPrivilege)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE later_table")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_running_it_again_updates_the_role(app_role, monkeypatch):
    """Run again (the password from APP_ROLE_PASSWORD this time), it updates the role."""
    monkeypatch.setenv("APP_ROLE_PASSWORD", PASSWORD)
    call_command("create_app_role", role=app_role, verbosity=0)
    assert as_role(app_role, "SELECT 1 FROM ledger_account LIMIT 1") is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_role_that_can_act_as_the_owner_is_refused(app_role):
    """Membership in the tables' owner would let the role `SET ROLE` to it and disable the
    triggers: the command names the membership and how to remove it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
        cursor.execute(f'GRANT "{owner}" TO "{app_role}"')
    with pytest.raises(CommandError, match=f"member of {owner}.*REVOKE {owner} FROM {app_role}"):
        call_command("create_app_role", role=app_role, password=PASSWORD, verbosity=0)


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_bad_role_name_is_refused():
    with pytest.raises(CommandError, match="letters, digits and underscores"):
        call_command("create_app_role", role='x"; DROP TABLE y; --', password="p")


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the SQLite refusal")
def test_on_sqlite_the_command_says_it_is_for_postgresql():
    with pytest.raises(CommandError, match="create_app_role is for PostgreSQL"):
        call_command("create_app_role", role="creditdesk_app", password="p")


def test_the_owners_commands_connect_as_migrate_database_url(tmp_path):
    """With MIGRATE_DATABASE_URL set, `migrate`, `create_app_role` and `createcachetable`
    connect as it and every other command (the app, the worker) as DATABASE_URL; an empty
    MIGRATE_DATABASE_URL counts as unset."""
    script = """
import importlib, os, sys
import config.settings as s
for command, migrate_url in [("migrate", None), ("create_app_role", None),
                             ("createcachetable", None), ("runserver", None),
                             ("db_worker", None), ("shell", None), ("migrate", "")]:
    if migrate_url is not None:
        os.environ["MIGRATE_DATABASE_URL"] = migrate_url
    sys.argv = ["manage.py", command]
    print(command, importlib.reload(s).DATABASES["default"]["USER"])
"""
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://app_user:pw@127.0.0.1:5432/creditdesk",
        "MIGRATE_DATABASE_URL": "postgres://owner_user:pw@127.0.0.1:5432/creditdesk",
        "VAR_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[:-1] == [
        "migrate owner_user",
        "create_app_role owner_user",
        "createcachetable owner_user",
        "runserver app_user",
        "db_worker app_user",
        "shell app_user",
        "migrate app_user",
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_running_it_again_takes_back_rights_given_by_hand(app_role):
    """Rights someone added to the role since (creating databases, TRUNCATE on a table)
    are taken back by the next run."""
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER ROLE "{app_role}" CREATEDB')
        cursor.execute(f'GRANT TRUNCATE ON ledger_journalline TO "{app_role}"')
    call_command("create_app_role", role=app_role, password=PASSWORD, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolcreatedb FROM pg_roles WHERE rolname = %s", [app_role])
        assert cursor.fetchone()[0] is False
    error = as_role(app_role, "TRUNCATE ledger_journalline")
    assert isinstance(error, psycopg.errors.InsufficientPrivilege)


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_role_needs_a_password(monkeypatch):
    monkeypatch.delenv("APP_ROLE_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="--password or APP_ROLE_PASSWORD"):
        call_command("create_app_role", role="creditdesk_app", password="")
